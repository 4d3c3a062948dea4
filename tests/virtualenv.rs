//! `virtualenv` on real ssh hosts, from wheels the tests build (no network): the
//! console script runs; a no-op deploy runs no pip or uv (wrappers that log every
//! call prove it); a changed requirement installs again without a rebuild; a
//! changed interpreter version rebuilds; the uv path, the bundled-pip-wheel path
//! and ensurepip all build; an environment no longer declared is removed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::sshd::TestHosts;
use crate::support::{Test, wheel};

fn service(requirement: &str) -> String {
    format!(
        r#"let s = service("s");
s.component("app", |c| {{
    let venv = c.add(virtualenv("venv", #{{
        python: "~/bin/python3",
        uv: "~/bin/uv",
        installer: "uv",
        requirements: ["{requirement}"],
        wheelhouse: "wheels",
    }}));
    c.add(command("hello", #{{ run: `${{venv.bin}}/ordohello > hello.txt; ${{venv.python}} -c "import sys; print(sys.prefix)" > prefix.txt`, on_change: [venv] }}));
}});
"#
    )
}

/// An executable script at `path` (owned by root, run by the test user).
fn script(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The calls the wrappers logged since the last look.
fn new_calls(log: &Path, seen: &mut usize) -> Vec<String> {
    let all: Vec<String> = std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    let new = all[*seen..].to_vec();
    *seen = all.len();
    new
}

#[test]
fn uv_builds_from_the_wheelhouse_updates_and_rebuilds_only_when_needed() {
    let uv = Path::new("/usr/local/bin/uv");
    assert!(
        uv.is_file(),
        "uv is missing at /usr/local/bin/uv: ./test.sh installs it there (from PyPI, into /opt/ordo-test-tools/uv) and checks it runs"
    );
    let hosts = TestHosts::start(&["t1"]);
    let home = hosts.home("t1").to_path_buf();
    // Wrappers that log every call: the interpreter (whose --version the probe
    // asks, and which can pretend to be another version) and uv.
    script(
        &home.join("bin/python3"),
        "#!/bin/sh\necho \"python $*\" >> \"$HOME/calls.log\"\n\
         if [ \"$1\" = --version ] && [ -f \"$HOME/fake-version\" ]; then cat \"$HOME/fake-version\"; exit 0; fi\n\
         exec /usr/bin/python3 \"$@\"\n",
    );
    script(
        &home.join("bin/uv"),
        "#!/bin/sh\necho \"uv $1 $2\" >> \"$HOME/calls.log\"\nexec /usr/local/bin/uv \"$@\"\n",
    );
    let log = home.join("calls.log");
    let mut seen = 0;
    let p = Test::new()
        .service(&service("ordohello==1.0"))
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("app")
        .build();
    wheel::build(&p.path("wheels"), "ordohello", "1.0");
    let root = home.join("deployment/s");

    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("+ t1:app virtualenv venv (python 3.")
        .stdout_contains(", uv, 1 wheel to upload)")
        .run();
    assert_eq!(read(&root.join("hello.txt")), "hello 1.0\n");
    assert_eq!(
        read(&root.join("prefix.txt")).trim(),
        root.join("venv").display().to_string()
    );
    assert!(root.join("venv.wheels/ordohello-1.0-py3-none-any.whl").is_file());
    let calls = new_calls(&log, &mut seen);
    assert!(calls.contains(&"uv venv --quiet".to_string()), "{calls:?}");
    assert!(calls.contains(&"uv pip install".to_string()), "{calls:?}");
    let record = read(&root.join("venv/.ordo-venv"));
    assert!(record.contains("installer uv\n"), "{record}");

    // Nothing changed: the probe asks the interpreter its version, and that is all.
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change: 2 steps on 1 host up to date")
        .run();
    assert_eq!(new_calls(&log, &mut seen), vec!["python --version".to_string()]);

    // A new requirement: installed again into the same environment, not rebuilt.
    wheel::build(&p.path("wheels"), "ordohello", "1.1");
    p.write("services/s.rhai", &service("ordohello==1.1"));
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("~ t1:app virtualenv venv (requirements changed: install again with uv, 1 wheel to upload)")
        .run();
    assert_eq!(read(&root.join("hello.txt")), "hello 1.1\n");
    let calls = new_calls(&log, &mut seen);
    assert!(calls.contains(&"uv pip install".to_string()), "{calls:?}");
    assert!(
        !calls.iter().any(|c| c.starts_with("uv venv")),
        "not rebuilt: {calls:?}"
    );

    // The interpreter now says it is another version: rebuilt.
    std::fs::write(home.join("fake-version"), "Python 3.99.1\n").unwrap();
    let out = p.test().args(&["deploy", "prod", "--yes"]).run();
    assert!(
        out.stdout.contains("~ t1:app virtualenv venv (rebuild: python 3.") && out.stdout.contains(" → 3.99.1; "),
        "{}",
        out.stdout
    );
    let calls = new_calls(&log, &mut seen);
    assert!(calls.contains(&"uv venv --quiet".to_string()), "rebuilt: {calls:?}");
    assert!(read(&root.join("venv/.ordo-venv")).contains("version 3.99.1\n"));
    assert_eq!(read(&root.join("hello.txt")), "hello 1.1\n");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();
    assert_eq!(new_calls(&log, &mut seen), vec!["python --version".to_string()]);
}

#[test]
fn the_bundled_pip_wheel_and_ensurepip_build_without_uv() {
    let hosts = TestHosts::start(&["t1"]);
    let p = Test::new()
        .service(
            r#"let s = service("s");
s.component("app", |c| {
    let fast = c.add(virtualenv("fast", #{ installer: "pip", requirements: "requirements.txt", wheelhouse: "wheels" }));
    let slow = c.add(virtualenv("slow", #{ installer: "ensurepip", requirements: "requirements.txt", wheelhouse: "wheels" }));
    c.add(command("hello", #{ run: `${fast.bin}/ordohello > fast.txt; ${slow.bin}/ordohello > slow.txt`, on_change: [fast, slow] }));
});
"#,
        )
        .environment("prod")
        .ssh_hosts(&hosts, &["t1"])
        .place("app")
        .file("requirements.txt", "ordohello==2.0\n")
        .build();
    wheel::build(&p.path("wheels"), "ordohello", "2.0");
    let bundled = std::fs::read_dir("/usr/share/python-wheels")
        .map(|d| {
            d.filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with("pip-"))
        })
        .unwrap_or(false);
    assert!(
        bundled,
        "no pip wheel in /usr/share/python-wheels: ./test.sh installs python3-venv, which brings it"
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("virtualenv fast (python 3.")
        .stdout_contains(", pip from Debian's bundled wheel, 1 wheel to upload)")
        .stdout_contains("virtualenv slow (python 3.")
        .stdout_contains(", ensurepip, 1 wheel to upload)")
        .run();
    let root = hosts.home("t1").join("deployment/s");
    assert_eq!(read(&root.join("fast.txt")), "hello 2.0\n");
    assert_eq!(read(&root.join("slow.txt")), "hello 2.0\n");
    // The fast path never installed pip into the environment; ensurepip did.
    assert!(!root.join("fast/bin/pip").exists());
    assert!(root.join("slow/bin/pip").exists());
    assert_eq!(read(&root.join("fast/.ordo-requirements.txt")), "ordohello==2.0\n");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change: 3 steps on 1 host up to date")
        .run();
    // A new version: both install again; the old wheel leaves the host's copy.
    std::fs::remove_file(p.path("wheels/ordohello-2.0-py3-none-any.whl")).unwrap();
    wheel::build(&p.path("wheels"), "ordohello", "2.1");
    p.write("requirements.txt", "ordohello==2.1\n");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("~ t1:app virtualenv fast (requirements changed: install again with pip from Debian's bundled wheel, 1 wheel to upload)")
        .run();
    assert_eq!(read(&root.join("fast.txt")), "hello 2.1\n");
    assert_eq!(read(&root.join("slow.txt")), "hello 2.1\n");
    let wheels: Vec<String> = std::fs::read_dir(root.join("fast.wheels"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(wheels, vec!["ordohello-2.1-py3-none-any.whl".to_string()]);

    // An environment no step declares any more goes, with its wheels; a directory
    // of the same kind ordo did not build would stay (no `.ordo-venv` in it).
    p.write(
        "services/s.rhai",
        &p.read("services/s.rhai")
            .replace(
                "    let slow = c.add(virtualenv(\"slow\", #{ installer: \"ensurepip\", requirements: \"requirements.txt\", wheelhouse: \"wheels\" }));\n",
                "",
            )
            .replace("; ${slow.bin}/ordohello > slow.txt", "")
            .replace("[fast, slow]", "[fast]"),
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("- t1:app virtualenv slow (no longer declared)")
        .run();
    assert!(!root.join("slow").exists(), "the environment is removed");
    assert!(!root.join("slow.wheels").exists(), "its wheels are removed");
    assert!(root.join("fast/.ordo-venv").is_file(), "the other one stays");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change: 2 steps on 1 host up to date")
        .run();
}

/// The wheelhouse is checked against the requirements before any host is asked:
/// a pinned requirement with no wheel of an equal version, or a named one with no
/// wheel of that name, would otherwise fail in pip on the host, after other
/// changes were made.
#[test]
fn a_requirement_missing_from_the_wheelhouse_is_refused_before_any_host_is_touched() {
    let p = Test::new()
        .service(
            r#"let s = service("s");
s.component("app", |c| {
    c.add(file("before.txt", "written first\n"));
    c.add(virtualenv("venv", #{ requirements: "requirements.lock", wheelhouse: "wheels" }));
});
"#,
        )
        .local_host("h")
        .place("app")
        // `ordohello==1.0.0` is the wheel ordohello-1.0 (PEP 440); whether the
        // marker line applies is the host's to decide: not checked.
        .file(
            "requirements.lock",
            "# pinned by pip-compile\nordohello==1.0.0 \\\n    --hash=sha256:0000\nordoextra==2.0\nrequests\nnumpy==1.26 ; python_version < \"3.8\"\n",
        )
        .build();
    wheel::build(&p.path("wheels"), "ordohello", "1.0");
    wheel::build(&p.path("wheels"), "ordoextra", "1.9");
    p.test()
        .args(&["check", "test"])
        .failure()
        .stderr_snapshot("wheelhouse_misses_requirements")
        .run();
    p.test().args(&["deploy", "test", "--yes"]).failure().run();
    assert!(!p.path("hosts/h/deployment").exists(), "nothing was changed");
    // Requirements given inline are named by their place in the list.
    p.write(
        "services/s.rhai",
        &p.read("services/s.rhai")
            .replace("\"requirements.lock\"", "[\"ordohello==1.0\", \"Ordo.Extra==2\"]"),
    );
    p.test()
        .args(&["check", "test"])
        .failure()
        .stderr_contains(
            "the wheelhouse `wheels` has no wheel for a requirement: `Ordo.Extra==2` (item 2 of `requirements`)",
        )
        .run();
    wheel::build(&p.path("wheels"), "ordo_extra", "2.0");
    p.test()
        .args(&["check", "test"])
        .stdout("ok: 2 steps on 1 host\n")
        .run();
}
