//! Hosts with many managed files (item 16): a thousand files whose paths together
//! are longer than the kernel's argument limit (ARG_MAX, 2 MiB here) plan and
//! deploy correctly, locally and over ssh — no "Argument list too long", no file
//! reported absent that exists — and the local transport does not deadlock on a
//! probe whose output fills the pipe.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::service;
use crate::support::Test;
use crate::support::sshd::{Setup, TestHosts};

const FILES: usize = 1000;

/// Ten directories nine levels deep (220-character names), a hundred files in
/// each: ~2,200 bytes a path, more than ARG_MAX (2 MiB) of paths in all.
fn steps() -> String {
    let dirs: Vec<String> = (0..10)
        .map(|d| {
            (0..9)
                .map(|level| format!("{d}{level}{}", "d".repeat(218)))
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    let total: usize = (0..FILES)
        .map(|i| dirs[i % 10].len() + 1 + 200 + i.to_string().len())
        .sum();
    assert!(
        total > 2 << 20,
        "the paths must not fit in one argument list: {total} bytes"
    );
    let list: Vec<String> = dirs.iter().map(|d| format!("\"{d}\"")).collect();
    format!(
        "  let dirs = [{}];\n  for i in 0..{FILES} {{\n    c.add(file(dirs[i % 10] + \"/\" + \"{}\" + i, `${{i}}`));\n  }}\n",
        list.join(", "),
        "f".repeat(200)
    )
}

/// Runs ordo with `args` in `project`; fails the test if it takes longer than
/// `limit` (a deadlocked transport hangs forever).
fn ordo_within(project: &Path, args: &[&str], limit: Duration) -> (i32, String, String) {
    let out = project.join(".out");
    let err = project.join(".err");
    let mut child = Command::new(env!("CARGO_BIN_EXE_ordo"))
        .args(args)
        .current_dir(project)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "ordo {args:?} still running after {limit:?} (a deadlock?)\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (
        status.code().unwrap_or(-1),
        std::fs::read_to_string(out).unwrap(),
        std::fs::read_to_string(err).unwrap(),
    )
}

/// Deploy (its plan first), plan again, change one file on the host, plan again.
fn plan_and_deploy(project: &Path, env: &str, host: &str, root: &Path) {
    let limit = Duration::from_secs(120);
    let (code, out, err) = ordo_within(project, &["deploy", env, "--yes"], limit);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(!err.contains("Argument list too long"), "{err}");
    assert!(
        out.contains(&format!("plan: {FILES} to change, 0 unchanged on 1 host")),
        "{out}"
    );
    assert!(
        out.contains(&format!("done: {FILES} changed, 0 unchanged, 0 failed")),
        "{out}"
    );
    let (code, out, err) = ordo_within(project, &["plan", env], limit);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!(
            "plan {env} (service s): {FILES} steps on 1 host\nnothing to change: {FILES} steps on 1 host up to date\n"
        ),
        "no file that exists is reported absent"
    );
    // One file changed on the host: exactly that one is planned.
    let victim = walk_files(root)
        .into_iter()
        .find(|p| p.to_string_lossy().ends_with("f999"))
        .expect("file 999");
    std::fs::write(&victim, "changed").unwrap();
    let (code, out, err) = ordo_within(project, &["plan", env], limit);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("plan: 1 to change, {} unchanged on 1 host", FILES - 1)),
        "{out}"
    );
    assert!(out.contains(&format!("~ {host}:x file ")), "{out}");
}

fn walk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            out.extend(walk_files(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn a_thousand_files_with_paths_longer_than_arg_max_plan_and_deploy_locally() {
    let p = Test::new()
        .service(&service(&steps()))
        .local_host("h")
        .place("x")
        .build();
    plan_and_deploy(p.root(), "test", "h", &p.path("hosts/h/deployment/s"));
}

#[test]
fn a_thousand_files_with_paths_longer_than_arg_max_plan_and_deploy_over_ssh() {
    a_thousand_files_with_paths_longer_than_arg_max_plan_and_deploy_over_ssh_on(TestHosts::setup());
}

/// [`a_thousand_files_with_paths_longer_than_arg_max_plan_and_deploy_over_ssh`] on the hosts `setup` makes (GNU or BusyBox).
pub(crate) fn a_thousand_files_with_paths_longer_than_arg_max_plan_and_deploy_over_ssh_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let p = super::over_ssh(&hosts, &["t1"], &steps()).build();
    plan_and_deploy(p.root(), "prod", "t1", &hosts.home("t1").join("deployment/s"));
}
