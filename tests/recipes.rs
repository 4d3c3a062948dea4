//! The recipes of the standard library, deployed on real ssh test hosts and
//! checked from outside: `ordo/proxy` balances real requests over two backends
//! through a real nginx and a real haproxy (whose own checkers accept the
//! generated configurations), reloads them without a new process; `ordo/postgres`
//! makes a role and a database in a real PostgreSQL cluster (started by the test
//! as the host's user), the role logs in with its secret password, which no server
//! log shows, a second deploy changes nothing and a new password is applied; and
//! every recipe refuses bad options with an error that says what to write.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use crate::support::processes::{get, wait_ok};
use crate::support::sshd::{TestHosts, closed_port};
use crate::support::{Project, Test};

/// A backend that answers every request with its name.
const BACKEND: &str = r#"import http.server, sys
port, name = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (name + "\n").encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
"#;

/// Two app hosts providing `app:backend` as the webapp example does, and a
/// balancer host running both proxies, each on its own port. The nginx
/// directory has quotes, spaces and a non-ASCII letter in its name.
fn proxy_service() -> String {
    format!(
        r#"import "ordo/proxy" as proxy;
let s = service("s");
s.component("app", |c| {{
    let port = c.attr("port", 0);
    let code = c.add(file("backend.py", `{BACKEND}`));
    c.add(program("backend", #{{
        command: `python3 backend.py ${{port}} ${{shell_quote(c.host.name)}}`,
        restart_on: [code],
        health: http_check(`http://127.0.0.1:${{port}}/`, #{{ interval: 0.1, retries: 100 }}),
    }}));
    c.provide("app:backend", #{{ host: c.host.name, address: `127.0.0.1:${{port}}`, weight: 1 }});
}});
s.component("lb", |c| {{
    let backends = c.require("app:backend");
    let balance = c.attr("balance", "roundrobin");
    let web = proxy::nginx(c, #{{
        listen: `127.0.0.1:${{c.attr("nginx_port", 0)}}`,
        backends: backends,
        balance: balance,
        dir: "it's a \"proxy\" é/nginx",
        workers: 1,
    }});
    let ha = proxy::haproxy(c, #{{
        listen: `127.0.0.1:${{c.attr("haproxy_port", 0)}}`,
        backends: backends,
        balance: balance,
        check: "/health",
        access_log: c.attr("access_log", false),
    }});
    if web.path == () || ha.path == () || web.program == () {{ throw "the proxies return their steps"; }}
}});
"#
    )
}

/// Which backends answered `count` requests through the proxy on `port`.
fn answers(port: u16, count: usize) -> BTreeSet<String> {
    wait_ok(port, "/", 10);
    (0..count)
        .map(|_| match get(port, "/") {
            Ok((200, body)) => body.trim().to_string(),
            other => panic!("the proxy on {port} answered {other:?}"),
        })
        .collect()
}

/// `cmd` as the test host's user, in its home: the proxies' own checkers must
/// accept the generated files with the permissions the deploy gave them.
#[track_caller]
fn as_user(hosts: &TestHosts, alias: &str, dir: &Path, cmd: &[&str]) -> String {
    let out = Command::new("runuser")
        .args(["-u", hosts.user(alias), "--"])
        .args(cmd)
        .current_dir(dir)
        .output()
        .expect("runuser");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} as {alias}'s user failed:\n{text}");
    text
}

/// The main process of a program, from the pid file its launcher keeps.
fn program_pid(hosts: &TestHosts, alias: &str, program: &str) -> String {
    let file = hosts.home(alias).join(format!(".ordo/s/programs/{program}/pid"));
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn nginx_and_haproxy_balance_requests_over_the_provided_backends_and_reload_in_place() {
    let hosts = TestHosts::start(&["web1", "web2", "lb"]);
    let (nginx_port, haproxy_port) = (closed_port(), closed_port());
    let p = Test::new()
        .service(&proxy_service())
        .environment("prod")
        .ssh_hosts(&hosts, &["web1"])
        .place_with("app", &format!("#{{ port: {} }}", closed_port()))
        .ssh_hosts(&hosts, &["web2"])
        .place_with("app", &format!("#{{ port: {} }}", closed_port()))
        .ssh_hosts(&hosts, &["lb"])
        .place_with(
            "lb",
            &format!("#{{ nginx_port: {nginx_port}, haproxy_port: {haproxy_port} }}"),
        )
        .build();
    let first = p.test().args(&["deploy", "prod", "--yes"]).run();
    for step in [
        "✓ lb:lb file it's a \"proxy\" é/nginx/nginx.conf",
        "✓ lb:lb command check it's a \"proxy\" é/nginx/nginx.conf",
        "✓ lb:lb program nginx",
        "✓ lb:lb file haproxy/haproxy.cfg",
        "✓ lb:lb command check haproxy/haproxy.cfg",
        "✓ lb:lb program haproxy",
    ] {
        assert!(first.stdout.contains(step), "{step}:\n{}", first.stdout);
    }
    let both: BTreeSet<String> = ["web1", "web2"].iter().map(ToString::to_string).collect();
    assert_eq!(answers(nginx_port, 20), both, "nginx sends requests to both backends");
    assert_eq!(
        answers(haproxy_port, 20),
        both,
        "haproxy sends requests to both backends"
    );

    // The proxies' own checkers accept what the recipe wrote.
    let root = hosts.home("lb").join("deployment/s");
    let nginx_dir = root.join("it's a \"proxy\" é/nginx");
    let conf = std::fs::read_to_string(nginx_dir.join("nginx.conf")).unwrap();
    assert!(conf.contains("server 127.0.0.1:"), "{conf}");
    assert!(conf.contains("listen 127.0.0.1:"), "{conf}");
    as_user(
        &hosts,
        "lb",
        &nginx_dir,
        &["/usr/sbin/nginx", "-t", "-p", "./", "-c", "nginx.conf", "-e", "stderr"],
    );
    let cfg = std::fs::read_to_string(root.join("haproxy/haproxy.cfg")).unwrap();
    assert!(cfg.contains("option httpchk GET /health"), "{cfg}");
    assert!(cfg.contains("server web1 127.0.0.1:"), "{cfg}");
    assert!(cfg.contains("server web2 127.0.0.1:"), "{cfg}");
    let valid = as_user(
        &hosts,
        "lb",
        &root.join("haproxy"),
        &["/usr/sbin/haproxy", "-c", "-f", "haproxy.cfg"],
    );
    assert!(valid.contains("Configuration file is valid"), "{valid}");

    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();

    // A new balancing method: both proxies are checked and reloaded, the same
    // main processes go on serving.
    let (nginx_pid, haproxy_pid) = (program_pid(&hosts, "lb", "nginx"), program_pid(&hosts, "lb", "haproxy"));
    p.write(
        "environments/prod.rhai",
        &p.read("environments/prod.rhai").replace(
            &format!("haproxy_port: {haproxy_port} }}"),
            &format!("haproxy_port: {haproxy_port}, balance: \"leastconn\", access_log: true }}"),
        ),
    );
    let changed = p.test().args(&["deploy", "prod", "--yes"]).run();
    for line in [
        "! lb:lb command check it's a \"proxy\" é/nginx/nginx.conf (file it's a \"proxy\" é/nginx/nginx.conf changed)",
        "! lb:lb program nginx (reload: file it's a \"proxy\" é/nginx/nginx.conf changed)",
        "! lb:lb program haproxy (reload: file haproxy/haproxy.cfg changed)",
        "+        least_conn;",
        "+    balance leastconn",
    ] {
        assert!(changed.stdout.contains(line), "{line}:\n{}", changed.stdout);
    }
    assert_eq!(answers(nginx_port, 10).len(), 2, "nginx after its reload");
    assert_eq!(answers(haproxy_port, 10).len(), 2, "haproxy after its reload");
    assert_eq!(program_pid(&hosts, "lb", "nginx"), nginx_pid, "nginx reloaded in place");
    assert_eq!(
        program_pid(&hosts, "lb", "haproxy"),
        haproxy_pid,
        "haproxy reloaded in place"
    );
    let log = std::fs::read_to_string(hosts.home("lb").join(".ordo/s/programs/haproxy/output.log")).unwrap();
    assert!(log.contains("GET / HTTP/1.0"), "access_log: true logs requests:\n{log}");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();
}

/// A one-host project whose component `x` runs `body` (Rhai), for the errors.
fn checked(body: &str) -> Arc<Project> {
    Test::new()
        .service(&format!(
            "import \"ordo/proxy\" as proxy;\nimport \"ordo/postgres\" as postgres;\nimport \"ordo/pyapp\" as pyapp;\nlet s = service(\"s\");\ns.component(\"x\", |c| {{\n    {body}\n}});\n"
        ))
        .local_host("h")
        .place("x")
        .build()
}

#[test]
fn recipes_refuse_bad_options_with_what_to_write_at_the_callers_line() {
    let cases: &[(&str, &str)] = &[
        (
            "proxy::nginx(c, #{ backends: [\"127.0.0.1:8001\"] });",
            "proxy::nginx: `listen` is missing: write listen: 8080 or listen: \"127.0.0.1:8080\"",
        ),
        (
            "proxy::haproxy(c, #{ listen: 8080, backend: [\"127.0.0.1:8001\"] });",
            "proxy::haproxy: `backends` is missing: write backends: c.require(\"app:backend\")",
        ),
        (
            "proxy::nginx(c, #{ lisen: 8080, backends: [] });",
            "proxy::nginx: unknown option `lisen`; the options are listen, backends,",
        ),
        (
            "proxy::nginx(c, #{ listen: 80800, backends: [\"127.0.0.1:8001\"] });",
            "proxy::nginx: `listen: 80800` is not a port: write a number from 1 to 65535",
        ),
        (
            "proxy::nginx(c, #{ listen: 8080, backends: [] });",
            "proxy::nginx: `backends` must be a non-empty array",
        ),
        (
            "proxy::haproxy(c, #{ listen: 8080, backends: [\"127.0.0.1:8001; evil\"] });",
            "proxy::haproxy: `backends[0].address: \"127.0.0.1:8001; evil\"` has no valid port",
        ),
        (
            "proxy::haproxy(c, #{ listen: 8080, backends: [#{ address: \"-x:80\" }] });",
            "proxy::haproxy: `backends[0].address: \"-x:80\"` has no valid host",
        ),
        (
            "proxy::haproxy(c, #{ listen: 8080, backends: [\"a:1\"], mode: \"tcp\", check: \"/health\" });",
            "is an HTTP check, and `mode` is \"tcp\"",
        ),
        (
            "proxy::nginx(c, #{ listen: 8080, backends: [\"a:1\"], balance: \"random\" });",
            "proxy::nginx: `balance: random` is not one of \"roundrobin\", \"leastconn\", \"source\"",
        ),
        (
            "postgres::role(c, \"app; DROP TABLE x\", #{});",
            "postgres::role: the role name app; DROP TABLE x is not a plain SQL identifier",
        ),
        (
            "postgres::database(c, \"Shop\", #{});",
            "postgres::database: the database name Shop is not a plain SQL identifier",
        ),
        (
            "postgres::database(c, \"shop\", #{ owner: \"x\\\"y\" });",
            "postgres::database: the owner name x\"y is not a plain SQL identifier",
        ),
        (
            "postgres::role(c, \"shop\", #{ connect: #{ hots: \"/tmp\" } });",
            "postgres::role connect: unknown option `hots`; the options are host, port, user, database, password, psql",
        ),
        (
            "postgres::role(c, \"shop\", #{ password: 42 });",
            "postgres::role: `password` must be a string, not i64 (42)",
        ),
        (
            "pyapp::app(c, #{ run_module: \"shop\" });",
            "pyapp::app: `requirements` is missing: write requirements: [\"shop==1.4\"]",
        ),
        (
            "pyapp::app(c, #{ requirements: [\"shop\"], run_module: \"shop\", command: \"venv/bin/shop\" });",
            "pyapp::app: give `run_module` or `command`, not both",
        ),
        (
            "pyapp::app(c, #{ requirements: [\"shop\"], run_module: \"shop; rm -rf ~\" });",
            "pyapp::app: `run_module: \"shop; rm -rf ~\"` is not a Python module name",
        ),
        (
            "pyapp::app(c, #{ name: \"-shop\", requirements: [\"shop\"], run_module: \"shop\" });",
            "pyapp::app: `name: \"-shop\"` is not a plain name",
        ),
        (
            "pyapp::app(c, #{ requirements: [\"shop\"], run_module: \"shop\", config: #{ \"../x.ini\": \"\" } });",
            "pyapp::app: the configuration file \"../x.ini\" must be a path inside the app's directory",
        ),
    ];
    for (body, message) in cases {
        checked(body)
            .test()
            .args(&["check", "test"])
            .status(2)
            .stderr_contains(message)
            // The caller's line, not the recipe's insides.
            .stderr_contains(&format!("6 │     {body}"))
            .stderr_contains("raised at stdlib/")
            .stderr_contains(&format!(
                "`ordo doc ordo/{}`",
                body.split("::").next().unwrap_or_default()
            ))
            .stderr_lacks("thrown here")
            .run();
    }
}

// ---- PostgreSQL ----

/// A password with what breaks naive quoting: quotes, spaces, a leading dash,
/// a backslash, a `$`, non-ASCII letters.
const PASSWORD: &str = "-it's a \"pass\" wörd \\ $HOME é";
const NEW_PASSWORD: &str = "-the 'new' one ✓";
const ADMIN_PASSWORD: &str = "admin's \"pw\"";

/// The PostgreSQL server binaries of the newest installed major version.
fn postgres_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// A PostgreSQL cluster of the test host's user, listening on a socket in a
/// directory whose name has a quote, a space and a non-ASCII letter (no TCP),
/// with every statement logged, password (SCRAM) authentication for every role,
/// and the host user as its superuser `admin`.
struct Cluster {
    socket: PathBuf,
    log: PathBuf,
}

impl Cluster {
    /// `Err` says why it cannot run here.
    fn start(hosts: &TestHosts, alias: &str) -> Result<Cluster, String> {
        let bin =
            postgres_bin().ok_or("no PostgreSQL server in /usr/lib/postgresql/*/bin (apt-get install postgresql)")?;
        if Command::new("psql").arg("--version").output().is_err() {
            return Err("no psql on the PATH (apt-get install postgresql-client)".into());
        }
        let home = hosts.home(alias);
        let user = hosts.user(alias);
        let (data, socket, log) = (home.join("pg/data"), home.join("pg/it's é"), home.join("pg/server.log"));
        let pwfile = home.join("pg/admin.pw");
        let run = |args: &[&std::ffi::OsStr]| -> Result<(), String> {
            let out = Command::new("runuser")
                .args(["-u", user, "--"])
                .args(args)
                .current_dir(home)
                .output()
                .map_err(|e| format!("runuser: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{args:?}: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        };
        let mkdir = |d: &Path| run(&["mkdir".as_ref(), "-p".as_ref(), d.as_os_str()]);
        mkdir(&socket)?;
        run(&[
            "sh".as_ref(),
            "-c".as_ref(),
            "umask 077; printf '%s' \"$1\" > \"$2\"".as_ref(),
            "sh".as_ref(),
            ADMIN_PASSWORD.as_ref(),
            pwfile.as_os_str(),
        ])?;
        run(&[
            bin.join("initdb").as_os_str(),
            "-D".as_ref(),
            data.as_os_str(),
            "-U".as_ref(),
            "admin".as_ref(),
            "--auth=scram-sha-256".as_ref(),
            "--pwfile".as_ref(),
            pwfile.as_os_str(),
            "-E".as_ref(),
            "UTF8".as_ref(),
            "--locale=C".as_ref(),
        ])
        .map_err(|e| format!("initdb failed: {e}"))?;
        let quoted = socket.display().to_string().replace('\'', "''");
        let conf = data.join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).map_err(|e| e.to_string())?;
        text.push_str(&format!(
            "\nlisten_addresses = ''\nunix_socket_directories = '{quoted}'\nlog_statement = 'all'\nlog_min_error_statement = 'error'\n"
        ));
        std::fs::write(&conf, text).map_err(|e| e.to_string())?;
        run(&[
            bin.join("pg_ctl").as_os_str(),
            "-D".as_ref(),
            data.as_os_str(),
            "-l".as_ref(),
            log.as_os_str(),
            "-w".as_ref(),
            "-t".as_ref(),
            "60".as_ref(),
            "start".as_ref(),
        ])
        .map_err(|e| format!("pg_ctl start failed: {e}"))?;
        Ok(Cluster { socket, log })
    }

    /// `psql -c sql` as `user` with `password` (from the environment, as a
    /// client would), in `database`: its output, or the error.
    fn query(&self, user: &str, password: &str, database: &str, sql: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .args(["-X", "-w", "-A", "-t", "-q", "-h"])
            .arg(&self.socket)
            .args(["-U", user, "-d", database, "-c", sql])
            .env("PGPASSWORD", password)
            .env_remove("PGUSER")
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

const POSTGRES_SERVICE: &str = r#"import "ordo/postgres" as postgres;
let s = service("s");
s.component("db", |c| {
    let admin = #{ host: c.attr("socket", ""), user: "admin", password: secret("admin_password") };
    postgres::role(c, "app", #{ password: secret("app_password"), connect: admin });
    postgres::database(c, "app", #{ owner: "app", connect: admin });
});
"#;

#[test]
fn postgres_role_and_database_are_made_once_and_a_new_password_is_applied() {
    let hosts = TestHosts::start(&["db"]);
    let cluster = match Cluster::start(&hosts, "db") {
        Ok(c) => c,
        Err(why) => {
            eprintln!("SKIPPED postgres_role_and_database_…: PostgreSQL cannot run here: {why}");
            return;
        }
    };
    let p = Test::new()
        .service(POSTGRES_SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["db"])
        .place_with(
            "db",
            &format!("#{{ socket: {:?} }}", cluster.socket.display().to_string()),
        )
        .build();
    let key = p.age_recipient("prod");
    p.set_secret("prod", "app_password", PASSWORD);
    p.set_secret("prod", "admin_password", ADMIN_PASSWORD);
    let deploy = |expect: &str| {
        p.test()
            .args(&["deploy", "prod", "--yes"])
            .env("ORDO_AGE_KEY", &key)
            .stdout_contains(expect)
            .run()
    };

    let first = deploy("✓ db:db command postgres role app");
    assert!(
        first.stdout.contains("✓ db:db command postgres database app"),
        "{}",
        first.stdout
    );
    assert_eq!(
        cluster.query("app", PASSWORD, "app", "SELECT current_user || ' owns ' || pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()"),
        Ok("app owns app".to_string()),
        "the role logs in with its password and owns its database"
    );
    assert!(
        cluster.query("app", "wrong", "app", "SELECT 1").is_err(),
        "a wrong password is refused"
    );
    let record = hosts.home("db").join("deployment/s/.postgres/role-app.sha256");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&record).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the fingerprint is private");

    deploy("nothing to change");

    // A new password: only the role changes, and the new password works.
    p.set_secret("prod", "app_password", NEW_PASSWORD);
    let changed = deploy("! db:db command postgres role app (its `unless` check failed)");
    assert!(changed.stdout.contains("1 changed, 1 unchanged"), "{}", changed.stdout);
    assert_eq!(
        cluster.query("app", NEW_PASSWORD, "app", "SELECT current_user"),
        Ok("app".into())
    );
    assert!(
        cluster.query("app", PASSWORD, "app", "SELECT 1").is_err(),
        "the old password is gone"
    );

    // Changed on the server by hand: the owner and the login are put back.
    cluster
        .query("admin", ADMIN_PASSWORD, "postgres", "ALTER ROLE app NOLOGIN")
        .unwrap();
    cluster
        .query("admin", ADMIN_PASSWORD, "postgres", "ALTER DATABASE app OWNER TO admin")
        .unwrap();
    let repaired = deploy("2 changed");
    assert!(
        repaired.stdout.contains("command postgres database app"),
        "{}",
        repaired.stdout
    );
    assert_eq!(
        cluster.query(
            "app",
            NEW_PASSWORD,
            "app",
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'app'"
        ),
        Ok("app".into())
    );
    deploy("nothing to change");

    // Every statement was logged; no password was.
    let log = std::fs::read_to_string(&cluster.log).unwrap();
    assert!(
        log.contains("ALTER ROLE \"app\" PASSWORD"),
        "log_statement = all:\n{log}"
    );
    for secret in [PASSWORD, NEW_PASSWORD, ADMIN_PASSWORD, "wörd", "new' one"] {
        assert!(
            !log.contains(secret),
            "the server log shows a password ({secret}):\n{log}"
        );
    }
}

/// `ordo/paths`, which recipes build paths with (`basename` and `dirname` once
/// called a function Rhai does not have).
#[test]
fn paths_join_and_split() {
    Test::new()
        .service(
            "import \"ordo/paths\" as paths;\nlet s = service(\"s\");\ns.component(\"x\", |c| {\n    print([paths::join(\"a/\", \"b\"), paths::join(\"a\", \"/b\"), paths::basename(\"a/b/c.txt\"), paths::basename(\"c\"),\n           paths::dirname(\"a/b/c.txt\"), paths::dirname(\"c\"), paths::dirname(\"/c\")]);\n});\n",
        )
        .local_host("h")
        .place("x")
        .args(&["check", "test"])
        .stderr("[\"a/b\", \"/b\", \"c.txt\", \"c\", \"a/b\", \".\", \"/\"]\n")
        .run();
}

/// The example in a module's documentation (its first `rhai` block).
fn doc_example(module: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("stdlib/{module}.rhai"));
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect();
    let start = doc.iter().position(|l| *l == "```rhai").expect("a ```rhai block") + 1;
    let len = doc[start..].iter().position(|l| *l == "```").expect("its end");
    doc[start..start + len].join("\n") + "\n"
}

/// The examples the recipes document are whole: as a module of a project whose
/// other components provide and take what they need, they check cleanly.
#[test]
fn the_documented_examples_of_the_recipes_check() {
    let cases = [
        (
            "proxy",
            "s.component(\"app\", |c| { c.provide(\"app:backend\", #{ host: c.host.name, address: \"127.0.0.1:8001\" }); });\n\
             s.component(\"lb\", |c| example::balancer(c));\n\
             s.component(\"front\", |c| { c.require_one(\"lb:url\"); });\n",
            ["app", "lb", "front"].as_slice(),
            "ok: 5 steps on 1 host\n",
        ),
        (
            "postgres",
            "s.component(\"db\", |c| example::db(c));\n\
             s.component(\"app\", |c| { c.require_one(\"db:dsn\"); });\n",
            ["db", "app"].as_slice(),
            "ok: 2 steps on 1 host\n",
        ),
        (
            "release",
            "s.component(\"site\", |c| example::site(c));\n",
            ["site"].as_slice(),
            "ok: 2 steps on 1 host\n",
        ),
        (
            "pyapp",
            "s.component(\"web\", |c| example::app(c));\n\
             s.component(\"lb\", |c| { c.require(\"app:backend\"); });\n",
            ["web", "lb"].as_slice(),
            "ok: 3 steps on 1 host\n",
        ),
    ];
    for (module, components, placed, ok) in cases {
        let p = Test::new()
            .service(&format!(
                "import \"components/example\" as example;\nlet s = service(\"s\");\n{components}"
            ))
            .file("components/example.rhai", &doc_example(module))
            // The wheelhouse is read when the virtualenv is declared (a wheel's
            // content is not looked into before the deploy).
            .file("wheels/shop-1.4-py3-none-any.whl", "a wheel")
            .local_host("h")
            .environment_line(&format!("for name in {placed:?} {{ env.place(name, \"h\"); }}"))
            .build();
        p.age_recipient("test");
        p.set_secret("test", "db_password", "pw");
        p.test().args(&["check", "test"]).stdout(ok).stderr("").run();
    }
}

// ---- Python apps ----

/// Builds `ordoweb-<version>-py3-none-any.whl` in `dir`, with no network and no
/// build backend (Python's `zipfile`, the metadata and RECORD pip and uv check):
/// `python -m ordoweb CONFIG ARG…` serves HTTP on the port of CONFIG's
/// `[server]` section, answering `/health` with `ok` and anything else with its
/// greeting, its version, its pid, `$MOOD` and its further arguments;
/// `python -m ordoweb.migrate` appends a line to `migrations.log`.
fn app_wheel(dir: &Path, version: &str) {
    const MAKE: &str = r#"
import base64, hashlib, sys, zipfile
version, out = sys.argv[1], sys.argv[2]
info = f"ordoweb-{version}.dist-info"
main = '''import configparser, http.server, json, os, sys
conf = configparser.ConfigParser()
conf.read(sys.argv[1], encoding="utf-8")
port, greeting = conf.getint("server", "port"), conf.get("server", "greeting")
answer = " ".join([greeting, "VERSION", str(os.getpid()), os.environ.get("MOOD", ""), json.dumps(sys.argv[2:])])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("ok" if self.path == "/health" else answer).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
'''.replace("VERSION", version)
files = {
    "ordoweb/__init__.py": "",
    "ordoweb/__main__.py": main,
    "ordoweb/migrate.py": f"open('migrations.log', 'a').write('migrated to {version}\\n')\n",
    f"{info}/METADATA": f"Metadata-Version: 2.1\nName: ordoweb\nVersion: {version}\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: ordo-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for path, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(text.encode())}")
record.append(f"{info}/RECORD,,")
files[f"{info}/RECORD"] = "\n".join(record) + "\n"
with zipfile.ZipFile(f"{out}/ordoweb-{version}-py3-none-any.whl", "w") as z:
    for path, text in files.items():
        z.writestr(zipfile.ZipInfo(path, (2020, 1, 1, 0, 0, 0)), text)
"#;
    std::fs::create_dir_all(dir).unwrap();
    let status = Command::new("/usr/bin/python3")
        .args(["-c", MAKE, version])
        .arg(dir)
        .status()
        .expect("/usr/bin/python3 builds the test wheel");
    assert!(status.success(), "building the test wheel failed");
}

/// The app: a configuration file whose name has a quote, a space and a
/// non-ASCII letter, given to the module as its first argument, then an
/// argument with a leading dash and quotes; a migration; `$MOOD` from `env`.
const PYAPP_SERVICE: &str = r#"import "ordo/pyapp" as pyapp;
let s = service("s");
s.component("web", |c| {
    let port = c.attr("port", 0);
    let config = "it's é.ini";
    let app = pyapp::app(c, #{
        name: "shop",
        requirements: [`ordoweb==${c.attr("version", "1.0")}`],
        wheelhouse: "wheels",
        run_module: "ordoweb",
        args: [config, "-x 'y' \"z\""],
        port: port,
        health: "/health",
        config: #{ "it's é.ini": `[server]
port = ${port}
greeting = ${c.attr("greeting", "hello")}
` },
        env: #{ MOOD: "calm \"and\" 'quoted'" },
        migrate: "venv/bin/python -m ordoweb.migrate",
    });
    c.provide("app:backend", #{ host: c.host.name, address: app.address });
});
s.component("front", |c| { c.require("app:backend"); });
"#;

#[test]
fn a_python_app_runs_from_its_wheels_and_restarts_on_new_code_or_configuration() {
    let hosts = TestHosts::start(&["web1"]);
    let port = closed_port();
    let p = Test::new()
        .service(PYAPP_SERVICE)
        .environment("prod")
        .ssh_hosts(&hosts, &["web1"])
        .place_with("web", &format!("#{{ port: {port} }}"))
        .place("front")
        .build();
    app_wheel(&p.path("wheels"), "1.0");
    let app = hosts.home("web1").join("deployment/s/shop");
    let body = |want: &str| {
        let body = wait_ok(port, "/", 10);
        assert!(body.contains(want), "{want:?} in {body:?}");
        body.split_whitespace().nth(2).unwrap_or_default().to_string()
    };
    let migrations = || std::fs::read_to_string(app.join("migrations.log")).unwrap_or_default();

    let first = p.test().args(&["deploy", "prod", "--yes"]).run();
    for step in [
        "✓ web1:web virtualenv shop/venv",
        "✓ web1:web file shop/it's é.ini",
        "✓ web1:web migration shop-migrate",
        "✓ web1:web program shop",
    ] {
        assert!(first.stdout.contains(step), "{step}:\n{}", first.stdout);
    }
    let pid = body(r#"hello 1.0"#);
    body(r#"calm "and" 'quoted' ["-x 'y' \"z\""]"#);
    assert_eq!(migrations(), "migrated to 1.0\n");

    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();
    assert_eq!(body("hello 1.0"), pid, "a no-op deploy leaves the app running");

    // New configuration: migrated again, then restarted.
    let place = format!("#{{ port: {port} }}");
    p.write(
        "environments/prod.rhai",
        &p.read("environments/prod.rhai")
            .replace(&place, &format!("#{{ port: {port}, greeting: \"bonjour\" }}")),
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("! web1:web program shop (restart: file shop/it's é.ini changed)")
        .run();
    let restarted = body("bonjour 1.0");
    assert_ne!(restarted, pid);
    assert_eq!(migrations(), "migrated to 1.0\nmigrated to 1.0\n");

    // New code: the virtualenv installs 1.1 from the wheelhouse, the app restarts on it.
    app_wheel(&p.path("wheels"), "1.1");
    p.write(
        "environments/prod.rhai",
        &p.read("environments/prod.rhai")
            .replace("greeting: \"bonjour\"", "greeting: \"bonjour\", version: \"1.1\""),
    );
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("~ web1:web virtualenv shop/venv (requirements changed")
        .stdout_contains("! web1:web program shop (restart: virtualenv shop/venv changed)")
        .run();
    assert_ne!(body("bonjour 1.1"), restarted);
    assert_eq!(migrations(), "migrated to 1.0\nmigrated to 1.0\nmigrated to 1.1\n");
    p.test()
        .args(&["deploy", "prod", "--yes"])
        .stdout_contains("nothing to change")
        .run();
}
