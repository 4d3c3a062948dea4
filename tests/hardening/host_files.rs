//! Writing on hostile ground, over real ssh hosts: another user never sees a
//! private file's content, not even while it is staged (item 13); staging names are
//! unpredictable and what another user pre-creates cannot redirect a write, and
//! operands starting with `-` are operands (item 14); a crafted link target cannot
//! forge probe lines (item 15); what the plan saw is what is overwritten, and
//! symlinks are never written through (item 17); root keeps a file's owner (item
//! 23).

use std::collections::BTreeSet;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{over_ssh, service};
use crate::support::single_host;
use crate::support::sshd::{Setup, TestHosts};

/// `script` run by `sh` as `user` (the tests run as root).
fn as_user(user: &str, script: &str) -> Child {
    Command::new("runuser")
        .args(["-u", user, "--", "sh", "-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runuser")
}

fn run_as(user: &str, script: &str) -> String {
    let out = as_user(user, script).wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "as {user}: {script}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a watcher running as root saw of ordo's staging directories under `dir`:
/// their names, and the modes of the directories and of the files in them.
#[derive(Default)]
struct Staging {
    names: BTreeSet<String>,
    dir_modes: BTreeSet<u32>,
    file_modes: BTreeSet<u32>,
}

/// Watches `dir` for staging directories until `stop` is set.
fn watch_staging(dir: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Staging> {
    std::thread::spawn(move || {
        let mut seen = Staging::default();
        while !stop.load(Ordering::Relaxed) {
            let Ok(entries) = std::fs::read_dir(&dir) else { continue };
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if !name.starts_with(".ordo-stage") {
                    continue;
                }
                if let Ok(m) = e.path().symlink_metadata()
                    && m.is_dir()
                {
                    seen.dir_modes.insert(m.mode() & 0o7777);
                    seen.names.insert(name);
                }
                for f in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
                    if let Ok(m) = f.path().symlink_metadata() {
                        seen.file_modes.insert(m.mode() & 0o7777);
                    }
                }
            }
        }
        seen
    })
}

#[test]
fn another_user_never_reads_a_private_file_while_it_is_deployed() {
    another_user_never_reads_a_private_file_while_it_is_deployed_on(TestHosts::setup());
}

/// [`another_user_never_reads_a_private_file_while_it_is_deployed`] on the hosts `setup` makes (GNU or BusyBox).
pub(crate) fn another_user_never_reads_a_private_file_while_it_is_deployed_on(setup: Setup) {
    let hosts = setup.start(&["t1", "t2"]);
    let (owner, other) = (hosts.user("t1").to_string(), hosts.user("t2").to_string());
    let root = hosts.home("t1").join("deployment/s");
    // A big private file (its staging takes a while) and a small one (written by
    // `printf`, not `base64 -d`), both new on every deploy.
    let steps = "  c.add(file(\"secret.conf\", #{ source: \"files/secret\", mode: 0o600 }));\n  \
        c.add(file(\"small.key\", #{ source: \"files/small\", mode: 0o600 }));\n";
    let p = over_ssh(&hosts, &["t1"], steps).build();
    // The directories are open to everyone: only the files' own modes protect them.
    std::fs::set_permissions(hosts.home("t1"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let stop_file = p.path("stop-watching");
    let watcher = as_user(
        &other,
        &format!(
            "n=0; while [ ! -e {stop} ]; do for f in {root}/secret.conf {root}/small.key {root}/.ordo-stage.*/*; do \
             if cat \"$f\" 2>/dev/null | grep -q TOPSECRET; then n=$((n+1)); fi; done; done; echo $n",
            stop = stop_file.display(),
            root = root.display()
        ),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let staging = watch_staging(root.clone(), stop.clone());
    let padding = "p".repeat(2 << 20);
    for n in 0..10 {
        p.write("files/secret", &format!("TOPSECRET-{n}\n{padding}\n"));
        p.write("files/small", &format!("TOPSECRET-small-{n}\n"));
        p.test()
            .args(&["deploy", "prod", "--yes"])
            .stdout_lacks("TOPSECRET")
            .run();
    }
    stop.store(true, Ordering::Relaxed);
    std::fs::write(&stop_file, "").unwrap();
    let staging = staging.join().unwrap();
    let read = watcher.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&read.stdout).trim(),
        "0",
        "user {other} read the private content: {}",
        String::from_utf8_lossy(&read.stderr)
    );
    for f in ["secret.conf", "small.key"] {
        let m = root.join(f).metadata().unwrap();
        assert_eq!(m.mode() & 0o7777, 0o600, "{f}");
        assert_eq!(
            run_as(&owner, &format!("head -c 10 {}", root.join(f).display())),
            "TOPSECRET-"
        );
    }
    assert!(
        !staging.names.is_empty(),
        "the watcher never saw a staging directory in 10 deploys"
    );
    assert_eq!(
        staging.dir_modes,
        BTreeSet::from([0o700]),
        "staging directories are private"
    );
    assert!(
        staging.file_modes.iter().all(|m| *m == 0o600),
        "staged files exist with their final mode only: {:?}",
        staging.file_modes
    );
}

#[test]
fn staging_names_are_unpredictable_and_pre_created_names_cannot_redirect_writes() {
    staging_names_are_unpredictable_and_pre_created_names_cannot_redirect_writes_on(TestHosts::setup());
}

/// [`staging_names_are_unpredictable_and_pre_created_names_cannot_redirect_writes`] on the hosts `setup` makes (GNU or BusyBox).
pub(crate) fn staging_names_are_unpredictable_and_pre_created_names_cannot_redirect_writes_on(setup: Setup) {
    let hosts = setup.start(&["t1", "t2"]);
    let (owner, attacker) = (hosts.user("t1").to_string(), hosts.user("t2").to_string());
    // A directory both users may write to (sticky, as /tmp): the attacker can
    // create names in it, but not rename or remove the deploy's.
    let shared = tempfile::Builder::new()
        .prefix("ordo-shared")
        .tempdir_in("/tmp")
        .unwrap();
    std::fs::set_permissions(shared.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let victim = hosts.home("t1").join("victim");
    run_as(&owner, &format!("mkdir -m 0777 {}", victim.display()));
    // The names an old deploy would have used (`.ordo-stage.<pid>`, for the next
    // few hundred pids) and a likely-looking directory, all pointing at the victim.
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    run_as(
        &attacker,
        &format!(
            "cd {s} && i={last}; while [ $i -lt $(({last}+400)) ]; do ln -s {v} .ordo-stage.$i; ln -s {v}/app.conf .ordo-tmp.$i.app.conf; i=$((i+1)); done; \
             mkdir -m 0777 .ordo-stage.XXXXXXXX; ln -s {v} .ordo-stage",
            s = shared.path().display(),
            v = victim.display()
        ),
    );
    let planted: BTreeSet<String> = std::fs::read_dir(shared.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let steps = format!(
        "  c.add(file(\"{0}/app.conf\", `v${{c.attr(\"v\", 0)}}`));\n  c.add(symlink(\"{0}/link\", \"-x\"));\n  \
         c.add(file(\"{0}/big\", #{{ source: \"files/big\" }}));\n",
        shared.path().display()
    );
    let p = over_ssh(&hosts, &["t1"], &steps).build();
    let stop = Arc::new(AtomicBool::new(false));
    let staging = watch_staging(shared.path().to_path_buf(), stop.clone());
    for v in 0..4 {
        let env = p.read("environments/prod.rhai");
        let env = env
            .replace(&format!("#{{ v: {} }}", v - 1), "#{ v: VALUE }")
            .replace(".place(\"x\")", ".place(\"x\", #{ v: VALUE })");
        p.write("environments/prod.rhai", &env.replace("VALUE", &v.to_string()));
        // Big enough that staging takes a moment the watcher can see.
        p.write("files/big", &format!("{v}{}", "b".repeat(2 << 20)));
        p.test().args(&["deploy", "prod", "--yes"]).run();
        assert_eq!(
            std::fs::read_to_string(shared.path().join("app.conf")).unwrap(),
            format!("v{v}")
        );
    }
    stop.store(true, Ordering::Relaxed);
    let staging = staging.join().unwrap();
    let conf = shared.path().join("app.conf").symlink_metadata().unwrap();
    assert!(conf.is_file());
    assert_eq!(conf.uid(), uid(&owner), "the deploy user's file");
    assert_eq!(std::fs::read_link(shared.path().join("link")).unwrap(), Path::new("-x"));
    assert_eq!(
        std::fs::read_dir(&victim).unwrap().count(),
        0,
        "nothing was written through a planted link"
    );
    let now: BTreeSet<String> = std::fs::read_dir(shared.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let expected: BTreeSet<String> = planted
        .iter()
        .cloned()
        .chain(["app.conf".into(), "link".into(), "big".into()])
        .collect();
    assert_eq!(
        now, expected,
        "every planted name is untouched and nothing staged is left"
    );
    // Every deploy staged under a fresh random name.
    let ours: Vec<&String> = staging.names.iter().filter(|n| !planted.contains(*n)).collect();
    assert!(!ours.is_empty(), "the watcher never saw a staging directory");
    for name in &ours {
        let suffix = name.strip_prefix(".ordo-stage.").unwrap();
        assert_eq!(suffix.len(), 8, "{name}");
        assert!(suffix.chars().any(|c| c.is_ascii_alphabetic()), "not a pid: {name}");
    }
}

fn uid(user: &str) -> u32 {
    let out = Command::new("id").arg("-u").arg(user).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn a_symlink_target_starting_with_a_dash_is_a_target() {
    a_symlink_target_starting_with_a_dash_is_a_target_on(TestHosts::setup());
}

/// [`a_symlink_target_starting_with_a_dash_is_a_target`] on the hosts `setup` makes (GNU or BusyBox).
pub(crate) fn a_symlink_target_starting_with_a_dash_is_a_target_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let p = over_ssh(&hosts, &["t1"], "  c.add(symlink(\"l\", c.attr(\"to\", \"-x\")));\n").build();
    let link = hosts.home("t1").join("deployment/s/l");
    p.test().args(&["deploy", "prod", "--yes"]).run();
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("-x"));
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change: 1 step on 1 host up to date")
        .run();
    p.write(
        "environments/prod.rhai",
        &p.read("environments/prod.rhai")
            .replace(".place(\"x\")", ".place(\"x\", #{ to: \"--rf y\" })"),
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("~ t1:x symlink l")
        .run();
    assert_eq!(std::fs::read_link(&link).unwrap(), Path::new("--rf y"));
}

#[test]
fn a_crafted_link_target_cannot_forge_probe_lines() {
    a_crafted_link_target_cannot_forge_probe_lines_on(TestHosts::setup());
}

/// [`a_crafted_link_target_cannot_forge_probe_lines`] on the hosts `setup` makes (GNU or BusyBox).
pub(crate) fn a_crafted_link_target_cannot_forge_probe_lines_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let p = over_ssh(
        &hosts,
        &["t1"],
        "  c.add(file(\"conf\", \"mine\\n\"));\n  c.add(symlink(\"current\", \"releases/1\"));\n",
    )
    .build();
    p.test().args(&["deploy", "prod", "--yes"]).run();
    let root = hosts.home("t1").join("deployment/s");
    let sha = "1a5a1b9c5a2a4bd4e2e0bd5f1b46ba7fcd3fd0b8bc3fac1b12cc0b7c0f4a2e9f";
    // What the old line-based probe read as "conf is the right file" and "current
    // points where it should", and the end of the probe's output.
    let forged = format!(
        "x\nf 644 1000 1000 ./deployment/s/conf\n{sha}  ./deployment/s/conf\nl 777 1000 1000 ./deployment/s/current releases/1\nend\n"
    );
    let owner = hosts.user("t1").to_string();
    run_as(
        &owner,
        &format!(
            "cd {} && rm conf && ln -s \"$(printf '{}')\" conf",
            root.display(),
            forged.replace('\n', "\\n")
        ),
    );
    p.test()
        .args(&["plan", "prod"])
        .status(1)
        .stdout_lacks("nothing to change")
        .stderr_contains("t1:x file conf: a symlink is in the way")
        .run();
    run_as(
        &owner,
        &format!(
            "cd {} && rm conf current && echo mine > conf && ln -s \"$(printf '{}')\" current",
            root.display(),
            forged.replace('\n', "\\n")
        ),
    );
    p.test()
        .args(&["plan", "prod"])
        .stdout_contains("~ t1:x symlink current")
        .stdout_contains("-> x\\u{a}f 644 1000 1000 ./deployment/s/conf\\u{a}")
        .stdout_contains("plan: 1 to change, 1 unchanged on 1 host")
        .run();
}

/// A custom step that runs `tamper` on the host between the plan and the steps
/// after it (custom steps run on the controller, between scripts), once.
fn tamper(command: &str) -> String {
    format!(
        "  c.add(step(\"tamper\", #{{ verify: |h| h.run(\"if [ -e tampered ]; then echo y; fi\").stdout == \"y\\n\", \
         update: |h| {{ h.run(\"touch tampered; {command}\"); }} }}));\n"
    )
}

#[test]
fn a_real_file_created_at_a_symlinks_path_after_the_plan_is_not_deleted() {
    a_real_file_created_at_a_symlinks_path_after_the_plan_is_not_deleted_on(TestHosts::setup());
}

/// [`a_real_file_created_at_a_symlinks_path_after_the_plan_is_not_deleted`] on the hosts `setup` makes (GNU or BusyBox).
pub(crate) fn a_real_file_created_at_a_symlinks_path_after_the_plan_is_not_deleted_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let root = hosts.home("t1").join("deployment/s");
    let steps = format!(
        "  c.add(directory(\"d\"));\n{}  c.add(symlink(\"current\", \"d\"));\n",
        tamper("echo theirs > current")
    );
    over_ssh(&hosts, &["t1"], &steps)
        .args(&["deploy", "prod", "--yes"])
        .status(1)
        .stderr_contains("t1:x symlink current could not be applied")
        .stderr_contains("changed since the plan: ./deployment/s/current exists now")
        .expect_file(root.join("current"), "theirs\n")
        .run();
    // A link the plan saw, replaced by a real file before it is updated.
    let steps = format!(
        "{}  c.add(symlink(\"l\", \"new\"));\n",
        tamper("rm l && echo theirs > l")
    );
    let p = over_ssh(&hosts, &["t1"], &steps).build();
    std::fs::remove_dir_all(&root).unwrap();
    run_as(
        hosts.user("t1"),
        &format!("mkdir -p {0} && ln -s old {0}/l", root.display()),
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .status(1)
        .stderr_contains("changed since the plan: ./deployment/s/l is no longer a symlink")
        .expect_file(root.join("l"), "theirs\n")
        .run();
    assert_eq!(staged(&root), Vec::<String>::new());
}

/// Staging directories left in `dir`.
fn staged(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".ordo-stage"))
        .collect()
}

#[test]
fn a_symlink_at_a_files_path_is_a_conflict_and_left_alone() {
    let hosts = TestHosts::start(&["t1"]);
    let owner = hosts.user("t1").to_string();
    let root = hosts.home("t1").join("deployment/s");
    let victim = hosts.home("t1").join("victim");
    run_as(
        &owner,
        &format!(
            "echo untouched > {v} && mkdir -p {r} && ln -s {v} {r}/conf",
            v = victim.display(),
            r = root.display()
        ),
    );
    let p = over_ssh(&hosts, &["t1"], "  c.add(file(\"conf\", \"mine\\n\"));\n").build();
    p.test()
        .args(&["plan", "prod"])
        .status(1)
        .stdout_contains("x t1:x file conf (a symlink is in the way")
        .stderr_contains("t1:x file conf: a symlink is in the way")
        .run();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .status(1)
        .stderr_contains("t1:x file conf: a symlink is in the way")
        .expect_file(&victim, "untouched\n")
        .run();
    assert!(root.join("conf").symlink_metadata().unwrap().file_type().is_symlink());
}

#[test]
fn a_symlinked_parent_directory_is_not_followed() {
    a_symlinked_parent_directory_is_not_followed_on(TestHosts::setup());
}

/// [`a_symlinked_parent_directory_is_not_followed`] on the hosts `setup` makes (GNU or BusyBox).
pub(crate) fn a_symlinked_parent_directory_is_not_followed_on(setup: Setup) {
    let hosts = setup.start(&["t1"]);
    let owner = hosts.user("t1").to_string();
    let root = hosts.home("t1").join("deployment/s");
    let elsewhere = hosts.home("t1").join("elsewhere");
    run_as(
        &owner,
        &format!(
            "mkdir -p {e} {r} && ln -s {e} {r}/etc",
            e = elsewhere.display(),
            r = root.display()
        ),
    );
    let p = over_ssh(&hosts, &["t1"], "  c.add(file(\"etc/app.conf\", \"mine\\n\"));\n").build();
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .status(1)
        .stderr_contains(
            "t1:x file etc/app.conf: ~/deployment/s/etc is a symlink (ordo does not write through symlinks)",
        )
        .run();
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);

    // The same, when the directory becomes a symlink after the plan.
    std::fs::remove_dir_all(&root).unwrap();
    std::fs::remove_dir_all(&elsewhere).unwrap();
    run_as(
        &owner,
        &format!("mkdir -p {e} {r}/etc", e = elsewhere.display(), r = root.display()),
    );
    let steps = format!(
        "{}  c.add(file(\"etc/app.conf\", \"mine\\n\"));\n  c.add(file(\"etc/sub/deeper.conf\", \"mine\\n\"));\n",
        tamper(&format!("rmdir etc && ln -s {} etc", elsewhere.display()))
    );
    p.write("services/s.rhai", &service(&steps));
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .status(1)
        .stderr_contains("changed since the plan: ./deployment/s/etc is no longer a directory (ordo does not write")
        .run();
    let left: Vec<String> = walk(&elsewhere);
    assert_eq!(left, Vec::<String>::new(), "nothing was written through the symlink");
}

/// Every path below `dir`, relative.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()).into_iter().map(|n| format!("{name}/{n}")));
        }
        out.push(name);
    }
    out
}

#[test]
fn as_root_a_rewritten_file_keeps_its_owner_and_the_owner_option_changes_it() {
    // The local transport runs as the test, that is as root.
    let p = single_host(&service("  c.add(file(\"conf\", c.attr(\"content\", \"new\\n\")));\n")).build();
    p.write("hosts/h/deployment/s/conf", "old\n");
    let conf = p.path("hosts/h/deployment/s/conf");
    let status = Command::new("chown").arg("nobody:nogroup").arg(&conf).status().unwrap();
    assert!(status.success());
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).unwrap();
    let before = conf.metadata().unwrap();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .expect_file("hosts/h/deployment/s/conf", "new\n")
        .run();
    let after = conf.metadata().unwrap();
    assert_eq!(
        (after.uid(), after.gid(), after.mode() & 0o7777),
        (before.uid(), before.gid(), 0o640)
    );
    assert_ne!(before.ino(), after.ino(), "rewritten atomically, not in place");

    p.write(
        "services/s.rhai",
        &service("  c.add(file(\"conf\", #{ content: \"new\\n\", owner: \"daemon:daemon\" }));\n"),
    );
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains(&format!("owner {}:{} → daemon:daemon", before.uid(), before.gid()))
        .run();
    let changed = conf.metadata().unwrap();
    assert_eq!((changed.uid(), changed.gid()), (uid("daemon"), gid("daemon")));
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("nothing to change")
        .run();
}

fn gid(group: &str) -> u32 {
    let out = Command::new("getent").arg("group").arg(group).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split(':')
        .nth(2)
        .unwrap()
        .parse()
        .unwrap()
}
