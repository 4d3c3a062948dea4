//! Recipe libraries: directories and git repositories pinned in `ordo.lock`,
//! fetched into a cache (`$XDG_CACHE_HOME/ordo`, one per test), offline after the
//! first fetch.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::support::{Project, Test, single_host};

const SERVICE: &str = r#"import "web/site" as site;
let s = service("s");
s.component("app", |c| site::configure(c));
"#;

/// A git repository with a module `web/site.rhai` whose template lies in the
/// library (`templates/greeting.txt`, next to a project file of the same name).
struct Repo {
    dir: PathBuf,
}

impl Repo {
    fn new(top: &Path) -> Repo {
        let dir = top.join("recipes repo");
        std::fs::create_dir_all(&dir).unwrap();
        let repo = Repo { dir };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.write(
            "web/site.rhai",
            "fn configure(c) { c.add(template(\"greeting.txt\", \"templates/greeting.txt\")); }\n",
        );
        repo.commit("templates/greeting.txt", "v1 from the library on {{ host.name }}\n");
        repo
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn commit(&self, rel: &str, text: &str) -> String {
        self.write(rel, text);
        self.git(&["add", "-A"]);
        self.git(&[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "commit",
            "-qm",
            "change",
        ]);
        self.git(&["rev-parse", "HEAD"])
    }

    fn git(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .output()
            .expect("run git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn url(&self) -> String {
        format!("file://{}", self.dir.display())
    }
}

/// A project using the repository as git library `web`.
fn project(repo: &Repo) -> Arc<Project> {
    Test::new()
        .file(
            "ordo.rhai",
            &format!(
                "project(#{{ library: [#{{ name: \"web\", git: \"{}\" }}] }});\n",
                repo.url()
            ),
        )
        .file("templates/greeting.txt", "the project's own file, not the library's\n")
        .service(SERVICE)
        .local_host("h")
        .place("app")
        .build()
}

fn ordo(p: &Arc<Project>, cache: &Path, args: &[&str]) -> Test {
    p.test().env("XDG_CACHE_HOME", &cache.display().to_string()).args(args)
}

fn pinned(p: &Project) -> String {
    let lock = p.read("ordo.lock");
    lock.lines()
        .find_map(|l| l.strip_prefix("commit = \""))
        .map(|c| c.trim_end_matches('"').to_string())
        .unwrap_or_else(|| panic!("no commit in ordo.lock:\n{lock}"))
}

#[test]
fn a_git_library_is_pinned_works_offline_and_moves_with_libs_update() {
    let top = tempfile::tempdir().unwrap();
    let cache = top.path().join("cache");
    let repo = Repo::new(top.path());
    let first = repo.git(&["rev-parse", "HEAD"]);
    let p = project(&repo);

    // The first load fetches and pins; the template is the library's own.
    ordo(&p, &cache, &["deploy", "test", "--yes"])
        .expect_file("hosts/h/deployment/s/greeting.txt", "v1 from the library on h\n")
        .run();
    assert_eq!(pinned(&p), first);
    ordo(&p, &cache, &["libs", "list"])
        .stdout(&format!("web: git {}, pinned at {}\n", repo.url(), &first[..12]))
        .run();
    ordo(&p, &cache, &["status", "test"])
        .stdout_contains("(current), environment test")
        .stdout_contains(&format!("library web@{}", &first[..12]))
        .run();

    // New commits upstream do not reach the project until the pin moves…
    let second = repo.commit("templates/greeting.txt", "v2 from the library on {{ host.name }}\n");
    ordo(&p, &cache, &["plan", "test"])
        .stdout_contains("nothing to change")
        .run();

    // …and the project works without the repository once fetched.
    let away = top.path().join("elsewhere");
    std::fs::rename(&repo.dir, &away).unwrap();
    ordo(&p, &cache, &["deploy", "test", "--yes"])
        .stdout_contains("nothing to change")
        .run();
    std::fs::rename(&away, &repo.dir).unwrap();

    // `libs update` moves the pin: a new fingerprint, the new template.
    ordo(&p, &cache, &["libs", "update", "web"])
        .stdout(&format!("web: {} → {}\n", &first[..12], &second[..12]))
        .run();
    assert_eq!(pinned(&p), second);
    ordo(&p, &cache, &["status", "test"])
        .stdout_contains("(differs from this checkout)")
        .run();
    ordo(&p, &cache, &["deploy", "test", "--yes"])
        .expect_file("hosts/h/deployment/s/greeting.txt", "v2 from the library on h\n")
        .run();
    ordo(&p, &cache, &["status", "test"])
        .stdout_contains("(current)")
        .stdout_contains(&format!("library web@{}", &second[..12]))
        .run();
    ordo(&p, &cache, &["libs", "update"])
        .stdout(&format!("web: pinned at {} (unchanged)\n", &second[..12]))
        .run();
    ordo(&p, &cache, &["libs", "update", "wbe"])
        .status(2)
        .stderr_contains("no git library `wbe` in ordo.rhai")
        .stderr_contains("did you mean `web`?")
        .run();
}

#[test]
fn a_pin_missing_from_the_cache_offline_is_a_clear_error_that_changes_nothing() {
    let top = tempfile::tempdir().unwrap();
    let repo = Repo::new(top.path());
    let p = project(&repo);
    ordo(&p, &top.path().join("cache"), &["deploy", "test", "--yes"]).run();
    let commit = pinned(&p);
    p.write("templates/greeting.txt", "changed, but nothing may be deployed\n");

    // Another machine: an empty cache, and the repository unreachable.
    std::fs::rename(&repo.dir, top.path().join("gone")).unwrap();
    let out = ordo(&p, &top.path().join("other cache"), &["deploy", "test", "--yes"])
        .failure()
        .stderr_contains(&format!(
            "library `web` is pinned to commit {commit} in ordo.lock, which is not in the cache and cannot be fetched"
        ))
        .stderr_contains("ordo.rhai:1")
        .stderr_contains("ordo libs update web")
        .expect_file("hosts/h/deployment/s/greeting.txt", "v1 from the library on h\n")
        .run();
    assert_eq!(out.code, 2, "a project problem: {}", out.stderr);
    ordo(&p, &top.path().join("other cache"), &["libs", "list"])
        .stdout_contains(&format!("pinned at {}, not in the cache yet", &commit[..12]))
        .run();
}

#[test]
fn a_module_found_nowhere_names_every_place_looked() {
    let top = tempfile::tempdir().unwrap();
    let cache = top.path().join("cache");
    let repo = Repo::new(top.path());
    let p = Test::new()
        .file(
            "ordo.rhai",
            &format!(
                "project(#{{ library: [\"shared\", #{{ name: \"web\", git: \"{}\", ref: \"main\" }}] }});\n",
                repo.url()
            ),
        )
        .file("shared/README", "recipes of the team\n")
        .service("import \"web/sitee\" as site;\nlet s = service(\"s\");\n")
        .local_host("h")
        .build();
    let commit = repo.git(&["rev-parse", "HEAD"]);
    ordo(&p, &cache, &["check", "test"])
        .status(2)
        .stderr_contains("module `web/sitee` not found")
        .stderr_contains("services/s.rhai:1")
        .stderr_contains("web/sitee.rhai (the project)")
        .stderr_contains("shared/web/sitee.rhai (library `shared`)")
        .stderr_contains(&format!("web/sitee.rhai (git library `web` at {})", &commit[..12]))
        .run();
    ordo(&p, &cache, &["libs", "list"])
        .stdout(&format!(
            "shared: directory\nweb: git {} (main), pinned at {}\n",
            repo.url(),
            &commit[..12]
        ))
        .run();
    // A standard library module that does not exist suggests the one meant.
    p.write(
        "services/s.rhai",
        "import \"ordo/wbe\" as web;\nlet s = service(\"s\");\n",
    );
    ordo(&p, &cache, &["check", "test"])
        .status(2)
        .stderr_contains("module `ordo/wbe` not found")
        .stderr_contains("did you mean `web`?")
        .run();
}

#[test]
fn library_declarations_are_checked() {
    let p = Test::new()
        .file(
            "ordo.rhai",
            "project(#{ library: [#{ name: \"web\", url: \"x\" }] });\n",
        )
        .service("let s = service(\"s\");\n")
        .local_host("h")
        .build();
    p.test()
        .args(&["check", "test"])
        .status(2)
        .stderr_contains("unknown option `url` for a git library")
        .stderr_contains("ordo.rhai:1")
        .run();
    p.write("ordo.rhai", "project(#{ library: [42] });\n");
    p.test()
        .args(&["check", "test"])
        .status(2)
        .stderr_contains("a `library` entry must be a directory (a string) or a git library (a map), not integer")
        .run();
    p.write(
        "ordo.rhai",
        "project(#{ library: [#{ git: \"/srv/a/web.git\" }, #{ git: \"/srv/b/web\" }] });\n",
    );
    p.test()
        .args(&["check", "test"])
        .status(2)
        .stderr_contains("library `web` is declared twice")
        .run();
    p.write(
        "ordo.rhai",
        "project(#{ library: [#{ git: \"/srv/web\", ref: \"--upload-pack=x\" }] });\n",
    );
    p.test()
        .args(&["check", "test"])
        .status(2)
        .stderr_contains("library `web`: `git` and `ref` cannot be empty or start with `-`")
        .run();
    p.write(
        "ordo.lock",
        "[libraries.web]\ngit = \"/srv/web\"\ncommit = \"../../etc\"\n",
    );
    p.write("ordo.rhai", "project(#{ library: [#{ git: \"/srv/web\" }] });\n");
    p.test()
        .args(&["check", "test"])
        .status(2)
        .stderr_contains("ordo.lock cannot be read: the commit of `web` is not a full commit id")
        .run();
}

/// A step that a recipe declared — in the standard library or in a library of the
/// project — fails or clashes at the recipe's line, which the user did not write:
/// the diagnostic leads with the component of the project that called the recipe
/// and shows the recipe's line as a note.
#[test]
fn a_step_a_recipe_declared_points_at_the_component_that_called_it() {
    let p = Test::new()
        .service(
            "import \"ordo/release\" as release;\nimport \"checks\" as checks;\nlet s = service(\"s\");\n\
             s.component(\"x\", |c| {\n    c.add(file(\"current\", \"in the way\"));\n    release::activate(c, \"1.0\");\n});\n\
             s.component(\"y\", |c| {\n    checks::must_pass(c);\n});\n",
        )
        .local_host("h")
        .place("x")
        .file("ordo.rhai", "project(#{ library: [\"shared\"] });\n")
        .file(
            "shared/checks.rhai",
            "fn must_pass(c) {\n    c.add(command(\"check\", #{ run: \"echo broken >&2; exit 3\", always: true }));\n}\n",
        )
        .build();
    p.test()
        .args(&["check", "test"])
        .status(2)
        .stderr_contains("╭─[stdlib/release.rhai:")
        .stderr_contains("in this component, through a library it calls")
        .stderr_contains("s.component(\"x\", |c| {")
        .stderr_snapshot("a_clash_with_a_step_of_the_standard_library")
        .run();
    // Only `y` now: its library's command fails when applied.
    p.write(
        "environments/test.rhai",
        &p.read("environments/test.rhai")
            .replace(".place(\"x\")", ".place(\"y\")"),
    );
    p.test()
        .args(&["deploy", "test", "--yes"])
        .status(1)
        .stderr_contains("╭─[shared/checks.rhai:2:11]")
        .stderr_contains("in this component, through a library it calls")
        .stderr_contains("s.component(\"y\", |c| {")
        .stderr_contains("broken")
        .stderr_snapshot("a_failed_command_of_a_library")
        .run();
    // A step declared in the project's own code shows no such note.
    let own = single_host("let s = service(\"s\");\ns.component(\"x\", |c| { c.add(command(\"c\", #{ run: \"exit 3\", always: true })); });\n")
        .args(&["deploy", "test", "--yes"])
        .status(1)
        .run();
    assert!(!own.stderr.contains("through a library"), "{}", own.stderr);
}

/// `ordo.rhai` with git library `web` at `git` and `reference`.
fn declare(p: &Project, git: &str, reference: &str) {
    p.write(
        "ordo.rhai",
        &format!("project(#{{ library: [#{{ name: \"web\", git: \"{git}\", ref: \"{reference}\" }}] }});\n"),
    );
}

/// Editing a library's `ref` or URL in `ordo.rhai` used to be ignored (the lock's
/// old commit shipped) or, for a URL, re-pinned silently during `plan`. A pin made
/// for another ref or URL is now an error of every command that loads the project,
/// and only `ordo libs update` moves it.
#[test]
fn a_pin_for_another_ref_or_url_is_an_error_until_libs_update() {
    let top = tempfile::tempdir().unwrap();
    let cache = top.path().join("cache");
    let repo = Repo::new(top.path());
    let first = repo.git(&["rev-parse", "HEAD"]);
    repo.git(&["checkout", "-q", "-b", "v2"]);
    let second = repo.commit("templates/greeting.txt", "v2 from the library on {{ host.name }}\n");
    repo.git(&["checkout", "-q", "main"]);
    let p = project(&repo);
    declare(&p, &repo.url(), "main");

    // A library new in ordo.rhai is pinned on first use, and the output says so.
    ordo(&p, &cache, &["deploy", "test", "--yes"])
        .stderr_contains(&format!(
            "library `web` was not pinned: pinned it to commit {} (`main` now) in ordo.lock",
            &first[..12]
        ))
        .expect_file("hosts/h/deployment/s/greeting.txt", "v1 from the library on h\n")
        .run();
    let lock = p.read("ordo.lock");
    ordo(&p, &cache, &["check", "test"]).stderr("").run();

    // Another ref: every command that evaluates refuses the old pin.
    declare(&p, &repo.url(), "v2");
    let stale = format!(
        "library `web`: ordo.rhai asks for ref `v2` (the pin is for ref `main`); ordo.lock still pins commit {first}"
    );
    for args in [
        &["check", "test"][..],
        &["plan", "test"],
        &["deploy", "test", "--yes"],
        &["status", "test"],
    ] {
        ordo(&p, &cache, args)
            .status(2)
            .stderr_contains(&stale)
            .stderr_contains("run `ordo libs update web`")
            .stderr_contains("ordo.rhai:1")
            .expect_file("hosts/h/deployment/s/greeting.txt", "v1 from the library on h\n")
            .run();
    }
    assert_eq!(p.read("ordo.lock"), lock, "no command but `libs update` moves a pin");
    ordo(&p, &cache, &["libs", "list"])
        .stdout(&format!(
            "web: git {} (v2), pinned at {} — stale: ordo.rhai asks for ref `v2` (the pin is for ref `main`); run `ordo libs update web`\n",
            repo.url(),
            &first[..12]
        ))
        .run();

    // A ref that does not exist fails `check` too, and `libs update` says why.
    declare(&p, &repo.url(), "v3");
    ordo(&p, &cache, &["check", "test"])
        .status(2)
        .stderr_contains("asks for ref `v3`")
        .run();
    ordo(&p, &cache, &["libs", "update", "web"])
        .status(2)
        .stderr_contains("library `web`: `v3` is not a branch, tag or commit of")
        .run();
    assert_eq!(p.read("ordo.lock"), lock);

    // `libs update` moves the pin to what the new ref names; then it ships.
    declare(&p, &repo.url(), "v2");
    ordo(&p, &cache, &["libs", "update", "web"])
        .stdout(&format!("web: {} → {}\n", &first[..12], &second[..12]))
        .run();
    ordo(&p, &cache, &["deploy", "test", "--yes"])
        .stderr("")
        .expect_file("hosts/h/deployment/s/greeting.txt", "v2 from the library on h\n")
        .run();

    // Another URL (a copy of the same repository) is refused the same way, and the
    // lock is not rewritten.
    let copy = top.path().join("copy.git");
    let cloned = std::process::Command::new("git")
        .args(["clone", "-q", "--bare"])
        .arg(&repo.dir)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(cloned.success());
    let lock = p.read("ordo.lock");
    declare(&p, &format!("file://{}", copy.display()), "v2");
    ordo(&p, &cache, &["plan", "test"])
        .status(2)
        .stderr_contains("library `web`: ordo.rhai asks for git file://")
        .stderr_contains("run `ordo libs update web`")
        .run();
    ordo(&p, &cache, &["libs", "list"])
        .stdout_contains(&format!(
            "— stale: ordo.rhai asks for git file://{} (the pin is for {}); run `ordo libs update web`",
            copy.display(),
            repo.url()
        ))
        .run();
    assert_eq!(p.read("ordo.lock"), lock);
}
