//! Immutable releases (`releases(..)`, `ordo/release`, `ordo/pyapp` with
//! `version`): each version is built into a directory of its own and `current`
//! switched to it; a version still kept on the host is switched back to without
//! building; pruning keeps exactly `keep` releases, never the active one, never
//! what ordo did not build; a build that fails half-way switches nothing and is
//! never taken as kept; and a pyapp release switch rolled over two app hosts
//! behind haproxy fails no request of a client that keeps asking.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::processes::{Reaper, get, wait_ok};
use crate::support::sshd::{TestHosts, closed_port};
use crate::support::{Project, Test};

/// A release set of two files; the version and the greeting are attributes.
const SERVICE: &str = r#"let s = service("s");
s.component("app", |c| {
    let v = c.attr("version", "1.0");
    let rel = c.add(releases("app", #{
        version: v,
        keep: c.attr("keep", 3),
        files: [
            file("app.ini", "version = " + v + "\ngreeting = " + c.attr("greeting", "hello") + "\n"),
            file("etc/secret.conf", #{ content: "token = 1\n", mode: 0o600 }),
        ],
    }));
    c.add(command("restart", #{ run: "readlink app/current >> restarts", on_change: [rel] }));
});
"#;

fn project() -> Arc<Project> {
    Test::new().service(SERVICE).local_host("h").place("app").build()
}

fn app(p: &Project) -> PathBuf {
    p.path("hosts/h/deployment/s/app")
}

/// The releases on the host, by name.
fn releases(p: &Project) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(app(p).join("releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

fn current(p: &Project) -> String {
    std::fs::read_link(app(p).join("current"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn deploy(p: &Arc<Project>, version: &str) -> crate::support::Output {
    p.test()
        .args(&["deploy", "test", "--yes", "--set", &format!("app.version={version}")])
        .run()
}

#[test]
fn a_release_is_built_once_switched_back_to_without_building_and_pruned_to_keep() {
    let p = project();
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout(
            "
            deploy test (service s): 2 steps on 1 host
              + h:app releases app (activate 1.0: build)  services/s.rhai:4:21
                    current: none → 1.0
                  + 1.0: build 2 files
                  --- app.ini
                  +++ app.ini
                  @@ -0,0 +1,2 @@
                  +version = 1.0
                  +greeting = hello
                  etc/secret.conf: new content (40c76829d277), not shown
              ! h:app command restart (releases app changed)  services/s.rhai:12:11
            plan: 2 to change, 0 unchanged on 1 host
              ✓ h:app releases app ([TIME])
              ✓ h:app command restart ([TIME])
              h: 2 changed, 0 failed, 0 skipped (2 round trips)
            done: 2 changed, 0 unchanged, 0 failed, 0 skipped on 1 host in [TIME]
            ",
        )
        .run();
    assert_eq!(current(&p), "releases/1.0");
    let secret = app(&p).join("releases/1.0/etc/secret.conf");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&secret).unwrap().permissions().mode() & 0o777, 0o600);
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("nothing to change: 2 steps on 1 host up to date")
        .run();

    for (i, v) in ["1.1", "1.2", "1.3", "1.4"].iter().enumerate() {
        let out = deploy(&p, v);
        assert!(
            out.stdout.contains(&format!("releases app (activate {v}: build")),
            "{}",
            out.stdout
        );
        assert_eq!(current(&p), format!("releases/{v}"));
        let kept = releases(&p);
        assert_eq!(kept.len(), (i + 2).min(3), "exactly keep (3) releases: {kept:?}");
        assert!(kept.contains(&v.to_string()));
    }
    assert_eq!(releases(&p), ["1.2", "1.3", "1.4"]);

    // Back to a kept release: a switch, nothing built — a file planted in it stays.
    std::fs::write(app(&p).join("releases/1.2/planted"), "x").unwrap();
    let back = p
        .test()
        .args(&["deploy", "test", "--yes", "--set", "app.version=1.2"])
        .stdout_contains("~ h:app releases app (switch to kept release 1.2)  services/s.rhai:4:21")
        .stdout_contains("    current: 1.4 → 1.2\n")
        .stdout_contains("-version = 1.4\n      +version = 1.2\n")
        .stdout_lacks(": build")
        .run();
    assert!(back.stdout.contains("! h:app command restart (releases app changed)"));
    assert_eq!(current(&p), "releases/1.2");
    assert!(app(&p).join("releases/1.2/planted").exists(), "not rebuilt");
    assert_eq!(releases(&p), ["1.2", "1.3", "1.4"]);

    // A new version after the switch prunes the oldest activated (1.3), never
    // the active one (1.2) nor the one activated.
    deploy(&p, "1.5");
    assert_eq!(releases(&p), ["1.2", "1.4", "1.5"]);
    let restarts = std::fs::read_to_string(p.path("hosts/h/deployment/s/restarts")).unwrap();
    assert_eq!(
        restarts,
        "releases/1.0\nreleases/1.1\nreleases/1.2\nreleases/1.3\nreleases/1.4\nreleases/1.2\nreleases/1.5\n"
    );

    // Fewer to keep: the surplus goes without a new version, the active one stays.
    p.test()
        .args(&[
            "deploy",
            "test",
            "--yes",
            "--set",
            "app.version=1.5",
            "--set",
            "app.keep=2",
        ])
        .stdout_contains("~ h:app releases app (prune 1.4 (keep 2))")
        .run();
    assert_eq!(releases(&p), ["1.2", "1.5"]);
}

#[test]
fn pruning_keeps_the_active_release_and_what_ordo_did_not_build() {
    let p = project();
    for v in ["1.0", "1.1", "1.2"] {
        deploy(&p, v);
    }
    // Someone points `current` back at the oldest by hand, and leaves a
    // directory of their own and a link in `releases/`.
    let r = app(&p).join("releases");
    std::fs::remove_file(app(&p).join("current")).unwrap();
    std::os::unix::fs::symlink("releases/1.0", app(&p).join("current")).unwrap();
    std::fs::create_dir(r.join("mine")).unwrap();
    std::os::unix::fs::symlink("/tmp", r.join("tmp")).unwrap();
    p.test()
        .args(&[
            "deploy",
            "test",
            "--yes",
            "--set",
            "app.version=1.3",
            "--set",
            "app.keep=2",
        ])
        .stdout_contains("~ h:app releases app (activate 1.3: build; prune 1.2, 1.1)")
        .stdout_contains("    current: 1.0 → 1.3\n")
        .run();
    assert_eq!(releases(&p), ["1.0", "1.3", "mine", "tmp"]);
    assert_eq!(current(&p), "releases/1.3");
}

#[test]
fn other_content_for_a_kept_version_is_a_new_release_beside_it() {
    let p = project();
    deploy(&p, "1.0");
    let out = p
        .test()
        .args(&["deploy", "test", "--yes", "--set", "app.greeting=bonjour"])
        .stdout_contains(": build, 1.0 on the host has other content)")
        .stdout_contains("-greeting = hello\n      +greeting = bonjour\n")
        .run();
    let kept = releases(&p);
    assert_eq!(kept.len(), 2, "{kept:?}");
    let new = kept.iter().find(|n| n.starts_with("1.0+")).expect("1.0+<hash>");
    assert_eq!(new.len(), "1.0+".len() + 8, "{new}");
    assert!(out.stdout.contains(&format!("activate {new}: build")), "{}", out.stdout);
    assert_eq!(current(&p), format!("releases/{new}"));
    assert_eq!(
        std::fs::read_to_string(app(&p).join("releases/1.0/app.ini")).unwrap(),
        "version = 1.0\ngreeting = hello\n",
        "the built release did not change"
    );
    // Back to the first content: the kept release, no build.
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("(switch to kept release 1.0)")
        .run();
    // A kept release edited on the host is not taken for the declared one.
    std::fs::write(app(&p).join(format!("releases/{new}/app.ini")), "edited\n").unwrap();
    p.test()
        .args(&["plan", "test", "--set", "app.greeting=bonjour"])
        .stdout_contains(&format!(
            "(activate {new}: rebuild, the release on the host was changed since it was built (app.ini differs))"
        ))
        .run();
}

#[test]
fn a_release_set_no_longer_declared_is_removed_with_its_releases_and_current() {
    let p = project();
    deploy(&p, "1.0");
    deploy(&p, "1.1");
    std::fs::create_dir(app(&p).join("releases/mine")).unwrap();
    p.write(
        "services/s.rhai",
        "let s = service(\"s\");\ns.component(\"app\", |c| { c.add(file(\"other.txt\", \"x\")); });\n",
    );
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("- h:app releases app (no longer declared)")
        .stdout_contains(") kept: the directory is not empty")
        .run();
    assert!(!app(&p).join("current").exists());
    assert_eq!(releases(&p), ["mine"], "what ordo did not build stays");
}

/// `current` goes with the releases only when it is a link to one of them: one
/// pointed elsewhere by hand (here at a directory ordo did not build) stays.
#[test]
fn a_removed_release_set_leaves_a_current_that_is_not_its_own() {
    let p = project();
    deploy(&p, "1.0");
    std::fs::create_dir(app(&p).join("releases/mine")).unwrap();
    std::fs::remove_file(app(&p).join("current")).unwrap();
    std::os::unix::fs::symlink("releases/mine", app(&p).join("current")).unwrap();
    p.write(
        "services/s.rhai",
        "let s = service(\"s\");\ns.component(\"app\", |c| { c.add(file(\"other.txt\", \"x\")); });\n",
    );
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("- h:app releases app (no longer declared)")
        .run();
    assert_eq!(current(&p), "releases/mine", "not ordo's link");
    assert_eq!(releases(&p), ["mine"]);
}

/// Every shell line survives a directory and file names full of quotes, spaces,
/// leading dashes and non-ASCII letters.
#[test]
fn releases_survive_hostile_names() {
    let dir = "it's \"a\" é/-x";
    let p = Test::new()
        .service(&format!(
            "let s = service(\"s\");\ns.component(\"app\", |c| {{\n    let v = c.attr(\"version\", \"1.0\");\n    \
             c.add(releases({dir:?}, #{{ version: v, files: [file(\"-c f'g \\\"é\\\".ini\", \"v = \" + v + \"\\n\")] }}));\n}});\n"
        ))
        .local_host("h")
        .place("app")
        .build();
    let app = p.path("hosts/h/deployment/s").join(dir);
    deploy(&p, "1.0");
    deploy(&p, "1.1");
    p.test()
        .args(&["deploy", "test", "--yes", "--set", "app.version=1.0"])
        .stdout_contains("(switch to kept release 1.0)")
        .run();
    assert_eq!(
        std::fs::read_to_string(app.join("current/-c f'g \"é\".ini")).unwrap(),
        "v = 1.0\n"
    );
    assert_eq!(
        std::fs::read_link(app.join("current")).unwrap().to_string_lossy(),
        "releases/1.0"
    );
    p.test()
        .args(&["deploy", "test", "--yes", "--set", "app.version=1.0"])
        .stdout_contains("nothing to change")
        .run();
}

/// A release whose virtualenv cannot be built (a broken wheel): `current` stays,
/// and the half-built release is never taken as kept — the next deploy builds
/// it again.
#[test]
fn a_build_that_fails_half_way_switches_nothing_and_is_built_again() {
    let p = Test::new()
        .service(
            r#"import "ordo/release" as release;
let s = service("s");
s.component("app", |c| {
    let v = c.attr("version", "1.0");
    release::build(c, "app", #{
        version: v,
        files: #{ "VERSION": v + "\n" },
        virtualenv: #{ requirements: [`ordohello==${v}`], wheelhouse: "wheels" },
    });
});
"#,
        )
        .local_host("h")
        .place("app")
        .build();
    crate::support::wheel::build(&p.path("wheels"), "ordohello", "1.0");
    p.test().args(&["deploy", "test", "--yes"]).run();
    assert_eq!(current(&p), "releases/1.0");
    assert!(app(&p).join("releases/1.0/venv/bin/ordohello").exists());

    std::fs::write(p.path("wheels/ordohello-2.0-py3-none-any.whl"), "not a zip").unwrap();
    p.test()
        .args(&["deploy", "test", "--yes", "--set", "app.version=2.0"])
        .status(1)
        .stderr_contains("h:app releases app could not be applied")
        .run();
    assert_eq!(current(&p), "releases/1.0", "current did not switch");
    assert_eq!(
        std::fs::read_to_string(app(&p).join("releases/2.0/.ordo-release")).unwrap(),
        "building\n"
    );
    std::fs::remove_file(p.path("wheels/ordohello-2.0-py3-none-any.whl")).unwrap();
    crate::support::wheel::build(&p.path("wheels"), "ordohello", "2.0");
    p.test()
        .args(&["deploy", "test", "--yes", "--set", "app.version=2.0"])
        .stdout_contains("(activate 2.0: rebuild, the last build of it did not finish)")
        .stdout_contains("-ordohello==1.0\n      +ordohello==2.0\n")
        .run();
    assert_eq!(current(&p), "releases/2.0");
    assert!(app(&p).join("releases/2.0/venv/bin/ordohello").exists());
    // 1.0 is kept: going back builds nothing.
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("(switch to kept release 1.0)")
        .stdout_lacks("build")
        .run();
}

#[test]
fn releases_refuse_bad_options_with_what_to_write() {
    let cases = [
        ("#{ files: [] }", "releases() needs a `version`"),
        ("#{ version: \"../x\" }", "`version: \"../x\"` cannot name a release"),
        (
            "#{ version: \"1\", keep: 1 }",
            "`keep: 1` is not a number of releases to keep",
        ),
        (
            "#{ version: \"1\", files: [\"a\"] }",
            "`files` of releases() takes what file(..), template(..) or virtualenv(..) return",
        ),
        (
            "#{ version: \"1\", files: [directory(\"d\")] }",
            "item 1 of `files` of releases() is not a file or template",
        ),
        (
            "#{ version: \"1\", files: [file(\"../a\", \"x\")] }",
            "the release's file `../a` is not a path inside the release",
        ),
        (
            "#{ version: \"1\", files: [file(\".ordo-release\", \"x\")] }",
            "is not a path inside the release",
        ),
        (
            "#{ version: \"1\", files: [file(\"a\", #{ content: \"x\", sudo: true })] }",
            "has `owner` or `sudo`",
        ),
        (
            "#{ version: \"1\", virtualenv: file(\"a\", \"x\") }",
            "a virtualenv goes in `virtualenv` of releases(), files in `files`",
        ),
        (
            "#{ version: \"1\", colour: 1 }",
            "unknown option `colour` for releases()",
        ),
    ];
    for (opts, error) in cases {
        Test::new()
            .service(&format!(
                "let s = service(\"s\");\ns.component(\"x\", |c| {{ c.add(releases(\"app\", {opts})); }});\n"
            ))
            .local_host("h")
            .place("x")
            .args(&["check", "test"])
            .status(2)
            .stderr_contains(error)
            .run();
    }
    Test::new()
        .service(
            "import \"ordo/pyapp\" as pyapp;\nlet s = service(\"s\");\ns.component(\"x\", |c| { pyapp::app(c, #{ requirements: [], run_module: \"m\", keep: 2 }); });\n",
        )
        .local_host("h")
        .place("x")
        .args(&["check", "test"])
        .status(2)
        .stderr_contains("pyapp::app: `keep` goes with `version` (releases)")
        .run();
}

/// An app deployed the old way (one virtualenv updated in place) moves to
/// releases: its release is built, it restarts in `current`, and only then is
/// the old virtualenv removed as no longer declared.
#[test]
fn a_pyapp_in_place_moves_to_releases_and_its_old_virtualenv_goes_after_the_restart() {
    let port = closed_port();
    let service = |version: &str| {
        format!(
            r#"import "ordo/pyapp" as pyapp;
let s = service("s");
s.component("web", |c| {{
    pyapp::app(c, #{{
        name: "relweb",
        requirements: ["relweb==1.0"],
        wheelhouse: "wheels",
        run_module: "relweb",
        args: ["{port}"],
        port: {port},
        health: "/health",
        config: #{{ "relweb.ini": "[relweb]\n" }},
        {version}
    }});
}});
"#
        )
    };
    let p = Test::new().service(&service("")).local_host("h").place("web").build();
    // The app and its supervisord run as this test's user: they go with the test.
    let _reaper = Reaper::new(p.root());
    app_wheel(&p.path("wheels"), "1.0");
    p.test().args(&["deploy", "test", "--yes"]).run();
    let home = p.path("hosts/h/deployment/s/relweb");
    assert!(wait_ok(port, "/", 10).ends_with("/deployment/s/relweb/venv"));
    p.write("services/s.rhai", &service("version: \"1.0\","));
    let out = p.test().args(&["deploy", "test", "--yes", "--format", "json"]).run();
    let changed: Vec<String> = out
        .events()
        .iter()
        .filter(|e| e["event"] == "step" && e["status"] == "changed")
        .map(|e| e["path"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        changed,
        [
            "h:web releases relweb",
            "h:web program relweb",
            "h:web file relweb/relweb.ini",
            "h:web virtualenv relweb/venv",
        ],
        "the old environment goes last, after the restart"
    );
    assert!(wait_ok(port, "/", 10).ends_with("/deployment/s/relweb/releases/1.0/venv"));
    assert!(!home.join("venv").exists() && !home.join("relweb.ini").exists());
    assert!(home.join("releases/1.0/relweb.ini").exists());
    p.test()
        .args(&["deploy", "test", "--yes"])
        .stdout_contains("nothing to change")
        .run();
}

// ---- pyapp releases, rolled under load behind haproxy ----

/// A pure-Python HTTP app as a wheel (no network, no build backend): `python -m
/// relweb PORT` answers `/health` with `ok` and anything else with
/// `relweb <version> <pid> <sys.prefix>` (the virtualenv it imports from).
pub fn app_wheel(dir: &Path, version: &str) {
    const MAKE: &str = r#"
import base64, hashlib, sys, zipfile
version, out = sys.argv[1], sys.argv[2]
info = f"relweb-{version}.dist-info"
main = '''import http.server, os, sys
answer = "relweb VERSION " + str(os.getpid()) + " " + sys.prefix
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("ok" if self.path == "/health" else answer).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
'''.replace("VERSION", version)
files = {
    "relweb/__init__.py": "",
    "relweb/__main__.py": main,
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: relweb\nVersion: {version}\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: ordo-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for path, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(text.encode())}")
record.append(f"{info}/RECORD,,")
files[f"{info}/RECORD"] = "\n".join(record) + "\n"
with zipfile.ZipFile(f"{out}/relweb-{version}-py3-none-any.whl", "w") as z:
    for path, text in files.items():
        z.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), text)
"#;
    std::fs::create_dir_all(dir).unwrap();
    let status = std::process::Command::new("/usr/bin/python3")
        .args(["-c", MAKE, version])
        .arg(dir)
        .status()
        .expect("/usr/bin/python3 builds the test wheel");
    assert!(status.success(), "building the test wheel failed");
}

/// Two app hosts (pyapp in releases, the version an attribute) and a balancer
/// host with haproxy checking `/health`, rolled one host at a time. The rolling
/// update's hooks drain each batch through haproxy's runtime API (`state
/// drain`: no new requests, those in flight finish) and put it back (`state
/// ready`, then waiting until haproxy's check sees it up), as `examples/webapp`
/// does with nginx.
const ROLLING_SERVICE: &str = r#"import "ordo/pyapp" as pyapp;
let s = service("s");
s.component("web", |c| {
    let port = c.attr("port", 0);
    let app = pyapp::app(c, #{
        name: "relweb",
        requirements: [`relweb==${c.attr("version", "1.0")}`],
        wheelhouse: "wheels",
        run_module: "relweb",
        args: [`${port}`],
        port: port,
        health: "/health",
        version: c.attr("version", "1.0"),
        keep: 2,
    });
    c.provide("app:backend", #{ host: c.host.name, address: app.address });
});
s.component("lb", |c| {
    let port = c.attr("port", 0);
    let servers = "";
    for b in c.require("app:backend") {
        servers += `    server ${b.host} ${b.address} check inter 500ms fall 2 rise 1` + "\n";
    }
    let conf = c.add(file("lb/haproxy.cfg", `global
    stats socket unix@admin.sock mode 600 level admin
defaults
    mode http
    option redispatch
    retries 2
    timeout connect 2s
    timeout client 60s
    timeout server 60s
frontend proxy
    bind 127.0.0.1:${port}
    default_backend backends
backend backends
    option httpchk GET /health
    http-check expect status 200
${servers}`));
    c.add(file("lb/drain", #{ source: "drain.py", mode: 0o755 }));
    c.add(program("haproxy", #{
        command: "/usr/sbin/haproxy -W -db -f haproxy.cfg",
        cwd: "lb",
        reload: "USR2",
        reload_on: [conf],
        health: tcp_check(`127.0.0.1:${port}`, #{ interval: 0.1, retries: 100 }),
    }));
});
"#;

/// `lb/drain add|remove HOST…` through haproxy's runtime API; nothing to do
/// before haproxy runs (the first deploy rolls the app before the balancer).
const DRAIN: &str = r#"#!/usr/bin/python3
import os, socket, sys, time
os.chdir(os.path.dirname(os.path.abspath(__file__)))
if not os.path.exists("admin.sock"):
    sys.exit(0)
def ask(line):
    s = socket.socket(socket.AF_UNIX)
    s.connect("admin.sock")
    s.sendall((line + "\n").encode())
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            return out.decode()
        out += d
def status(host):
    for l in ask("show stat").splitlines():
        f = l.split(",")
        if len(f) > 17 and f[0] == "backends" and f[1] == host:
            return f[17]
action, hosts = sys.argv[1], sys.argv[2:]
for h in hosts:
    ask(f"set server backends/{h} state " + ("drain" if action == "add" else "ready"))
deadline = time.time() + 20
while action == "remove" and time.time() < deadline and any(status(h) != "UP" for h in hosts):
    time.sleep(0.05)
"#;

/// Requests through the balancer, one fresh connection each, until stopped; it
/// counts the answers, and those that came while the deploy ran.
struct Client {
    stop: Arc<AtomicBool>,
    deploying: Arc<AtomicBool>,
    answered: Arc<AtomicUsize>,
    thread: std::thread::JoinHandle<(usize, usize, Vec<String>, Vec<String>)>,
}

impl Client {
    fn start(port: u16) -> Client {
        let stop = Arc::new(AtomicBool::new(false));
        let deploying = Arc::new(AtomicBool::new(false));
        let answered = Arc::new(AtomicUsize::new(0));
        let (flag, during_deploy, count) = (stop.clone(), deploying.clone(), answered.clone());
        let thread = std::thread::spawn(move || {
            let (mut ok, mut during, mut failed, mut seen) = (0, 0, Vec::new(), Vec::new());
            let deadline = Instant::now() + Duration::from_secs(180);
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                let deploying = during_deploy.load(Ordering::Relaxed);
                match get(port, "/") {
                    Ok((200, body)) => {
                        ok += 1;
                        count.store(ok, Ordering::Relaxed);
                        // Sent while the deploy ran and answered after it began.
                        if deploying && during_deploy.load(Ordering::Relaxed) {
                            during += 1;
                        }
                        let version = body.split_whitespace().nth(1).unwrap_or_default().to_string();
                        if !seen.contains(&version) {
                            seen.push(version);
                        }
                    }
                    Ok((code, body)) => failed.push(format!("{code}: {}", body.trim())),
                    Err(e) => failed.push(e),
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            (ok, during, failed, seen)
        });
        Client {
            stop,
            deploying,
            answered,
            thread,
        }
    }

    /// Waits until `n` requests were answered (at most 30 s).
    fn warm(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.answered.load(Ordering::Relaxed) < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn finish(self) -> (usize, usize, Vec<String>, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("client thread")
    }
}

#[test]
fn a_pyapp_release_switch_rolled_behind_haproxy_fails_no_request() {
    let hosts = TestHosts::start(&["web1", "web2", "lb"]);
    let ports = [closed_port(), closed_port(), closed_port()];
    let mut t = Test::new().service(ROLLING_SERVICE).environment("prod");
    for (i, w) in ["web1", "web2"].iter().enumerate() {
        t = t
            .ssh_hosts(&hosts, &[w])
            .place_with("web", &format!("#{{ port: {} }}", ports[i]));
    }
    let p = t
        .ssh_hosts(&hosts, &["lb"])
        .place_with("lb", &format!("#{{ port: {} }}", ports[2]))
        .override_("web", "#{ version: \"1.0\" }")
        .environment_line(
            "env.rolling(\"web\", #{ batch: 1, max_failures: 0,\n    \
             before: #{ on: \"lb\", run: \"[ ! -x lb/drain ] || lb/drain add $ORDO_HOSTS\" },\n    \
             after: #{ on: \"lb\", run: \"[ ! -x lb/drain ] || lb/drain remove $ORDO_HOSTS\" } });",
        )
        .file("drain.py", DRAIN)
        .build();
    for v in ["1.0", "2.0"] {
        app_wheel(&p.path("wheels"), v);
    }
    let version = |v: &str| {
        let env = p.read("environments/prod.rhai");
        let at = env.find("version: \"").expect("the override") + "version: \"".len();
        let end = at + env[at..].find('"').unwrap();
        p.write("environments/prod.rhai", &format!("{}{v}{}", &env[..at], &env[end..]));
    };
    let deploy = || p.test().args(&["deploy", "prod", "--yes", "--format", "json"]).run();
    let serving = |i: usize| wait_ok(ports[i], "/", 10);
    deploy();
    assert!(serving(0).starts_with("relweb 1.0 "));
    wait_ok(ports[2], "/", 10);

    // 1.0 → 2.0 (built), then back to 1.0 (kept: switched, nothing built), each
    // rolled host by host while a client keeps asking through haproxy.
    for (v, kept) in [("2.0", false), ("1.0", true)] {
        version(v);
        let client = Client::start(ports[2]);
        // Answered before the deploy: a count, not a pause, so a fast machine and a
        // slow one both start the deploy under load.
        client.warm(20);
        client.deploying.store(true, Ordering::Relaxed);
        let out = deploy();
        client.deploying.store(false, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(300));
        let (ok, during, failed, seen) = client.finish();
        println!(
            "release {v} rolled under load: {ok} requests answered ({during} while the deploy ran), {} failed",
            failed.len()
        );
        assert!(
            failed.is_empty(),
            "{} of {} requests failed: {:?}",
            failed.len(),
            ok + failed.len(),
            &failed[..failed.len().min(10)]
        );
        assert!(ok > 30, "the client sent too few requests to prove anything: {ok}");
        assert!(
            during >= 5,
            "only {during} requests were answered while the deploy ran: the switch was not under load"
        );
        assert!(seen.contains(&v.to_string()), "{seen:?}");
        for i in 0..2 {
            // The process runs from its release, not through `current`: a switch
            // under it cannot change what it imports.
            let answer = serving(i);
            assert!(answer.starts_with(&format!("relweb {v} ")), "{answer}");
            assert!(
                answer.ends_with(&format!("/deployment/s/relweb/releases/{v}/venv")),
                "{answer}"
            );
        }
        let events = out.events();
        let details: Vec<String> = events
            .iter()
            .filter(|e| e["event"] == "planned" && e["path"].as_str().is_some_and(|p| p.ends_with("releases relweb")))
            .map(|e| e["detail"].as_str().unwrap_or_default().to_string())
            .collect();
        let want = if kept {
            format!("switch to kept release {v}")
        } else {
            format!("activate {v}: build")
        };
        assert_eq!(details, [want.clone(), want], "{events:?}");
        let batches = events
            .iter()
            .filter(|e| e["event"] == "batch" && e["status"] == "passed")
            .count();
        assert_eq!(batches, 2, "rolled in two batches");
    }
    for w in ["web1", "web2"] {
        let r = hosts.home(w).join("deployment/s/relweb/releases");
        let mut names: Vec<String> = std::fs::read_dir(&r)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        names.sort();
        assert_eq!(names, ["1.0", "2.0"]);
    }
}

/// A retired host's teardown (decision 56) removes its release sets like any
/// removal: every release ordo built and `current`, before ordo's records go.
#[test]
fn a_retired_hosts_teardown_removes_its_releases_and_current() {
    let p = project();
    deploy(&p, "1.0");
    deploy(&p, "1.1");
    p.write(
        "environments/test.rhai",
        &p.read("environments/test.rhai").replace(".place(\"app\")", ".retire()"),
    );
    let out = p.test().args(&["deploy", "test", "--yes"]).run();
    assert!(
        out.stdout.contains("- h:app releases app (host retired)"),
        "{}",
        out.stdout
    );
    assert!(!app(&p).join("releases").exists(), "{}", out.stdout);
    assert!(app(&p).join("current").symlink_metadata().is_err(), "current is gone");
    assert!(!p.path("hosts/h/.ordo").exists(), "records last");
}

/// On a BusyBox host over ssh (Alpine's userland: ash, BusyBox `mv`, `ln`, `rm`)
/// a release set builds, prunes to `keep`, switches back to a kept release
/// without building, and is removed with its `current`.
#[test]
fn releases_build_switch_prune_and_go_on_a_busybox_host() {
    let hosts = TestHosts::setup().busybox().start(&["bb"]);
    let p = Test::new()
        .service(SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["bb"])
        .place("app")
        .build();
    let app = hosts.home("bb").join("deployment/s/app");
    let at = |v: &str| {
        p.test()
            .args(&[
                "deploy",
                "prod",
                "--yes",
                "--set",
                &format!("app.version={v}"),
                "--set",
                "app.keep=2",
            ])
            .run()
    };
    for v in ["1.0", "1.1", "1.2"] {
        let out = at(v);
        assert!(out.stdout.contains(&format!("(activate {v}: build")), "{}", out.stdout);
    }
    let names = |app: &Path| {
        let mut n: Vec<String> = std::fs::read_dir(app.join("releases"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(&app), ["1.1", "1.2"]);
    let out = at("1.1");
    assert!(out.stdout.contains("(switch to kept release 1.1)"), "{}", out.stdout);
    assert_eq!(
        std::fs::read_link(app.join("current")).unwrap(),
        Path::new("releases/1.1")
    );
    assert_eq!(
        std::fs::read_to_string(app.join("current/app.ini")).unwrap(),
        "version = 1.1\ngreeting = hello\n"
    );
    p.write(
        "services/s.rhai",
        "let s = service(\"s\");\ns.component(\"app\", |c| { c.add(file(\"other.txt\", \"x\")); });\n",
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("- bb:app releases app (no longer declared)")
        .run();
    assert!(!app.join("releases").exists());
    assert!(app.join("current").symlink_metadata().is_err(), "current is gone");
}
