//! What shapes a deployment is what its evaluation read: the fingerprint each host
//! records and the git check cover exactly those files (scripts, modules from the
//! project and from library directories anywhere, templates and file sources).

use crate::support::Project;

fn evaluate(root: &std::path::Path, env: &str) -> ordo::script::Evaluated {
    let project = ordo::project::Project {
        root: root.to_path_buf(),
    };
    ordo::script::evaluate(&project, env).unwrap_or_else(|e| panic!("{:?}", e.0))
}

#[test]
fn the_fingerprint_ignores_files_that_were_not_read() {
    let p = Project::example("hello");
    p.ordo(&["deploy", "local", "--yes"]).success();
    p.write("README.md", "notes\n");
    p.write("templates/unused.conf", "not used by any component\n");
    let status = p.ordo(&["status", "local"]).success();
    assert_eq!(status.stdout.matches("(current").count(), 2, "{}", status.stdout);
    p.write("files/robots.txt", "User-agent: *\nDisallow: /\n");
    let status = p.ordo(&["status", "local"]).success();
    assert_eq!(
        status.stdout.matches("(differs from this checkout").count(),
        2,
        "{}",
        status.stdout
    );
}

#[test]
fn inputs_are_the_files_read() {
    let p = Project::example("hello");
    let evaluated = evaluate(p.root(), "local");
    assert_eq!(
        evaluated.input_names(),
        [
            "components/api.rhai",
            "components/web.rhai",
            "environments/local.rhai",
            "files/robots.txt",
            "services/site.rhai",
            "stdlib/options.rhai",
            "stdlib/paths.rhai",
            "stdlib/release.rhai",
            "stdlib/web.rhai",
            "templates/api.conf",
            "templates/index.html",
        ]
    );
    assert_eq!(evaluated.inputs().len(), 7, "the standard library is not on disk");
    assert_eq!(evaluated.fingerprint().len(), 16);
    assert_eq!(
        evaluated.fingerprint(),
        evaluate(p.root(), "local").fingerprint(),
        "stable"
    );
}

#[test]
fn library_directories_outside_the_project_are_inputs() {
    let top = tempfile::tempdir().unwrap();
    let root = top.path().join("project");
    let write = |rel: &str, text: &str| {
        let path = top.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("project/ordo.rhai", "project(#{ library: [\"../recipes\"] });\n");
    write(
        "project/environments/test.rhai",
        "let env = environment(\"test\", #{ service: \"s\" });\nenv.host(\"h\", #{ transport: \"local\", home: \"hosts/h\" }).place(\"x\");\n",
    );
    write(
        "project/services/s.rhai",
        "import \"greeting\" as greeting;\nlet s = service(\"s\");\ns.component(\"x\", |c| greeting::configure(c));\n",
    );
    write(
        "recipes/greeting.rhai",
        "fn configure(c) { c.add(template(\"hello\", \"../recipes/templates/hello\")); }\n",
    );
    write("recipes/templates/hello", "hello {{ host.name }}\n");
    let first = evaluate(&root, "test");
    assert!(
        first.input_names().iter().any(|n| n == "../recipes/greeting.rhai"),
        "{:?}",
        first.input_names()
    );
    assert!(first.input_names().iter().any(|n| n == "../recipes/templates/hello"));
    write(
        "recipes/greeting.rhai",
        "// a comment changes the recipe\nfn configure(c) { c.add(template(\"hello\", \"../recipes/templates/hello\")); }\n",
    );
    assert_ne!(first.fingerprint(), evaluate(&root, "test").fingerprint());
    write("recipes/templates/hello", "hi {{ host.name }}\n");
    let third = evaluate(&root, "test");
    write("recipes/unrelated.txt", "x");
    assert_eq!(third.fingerprint(), evaluate(&root, "test").fingerprint());
}

#[test]
fn only_inputs_make_the_tree_dirty() {
    let p = Project::example("hello");
    p.git(&["init", "-q"]);
    p.git(&["add", "-A"]);
    p.git(&["commit", "-qm", "init"]);
    // The local hosts' homes (.ordo-hosts/, not ignored here) and notes are not inputs.
    p.ordo(&["deploy", "local", "--yes"]).success();
    p.write("README.md", "notes\n");
    p.ordo(&["deploy", "local", "--yes"]).success();
    p.write("templates/index.html", "<h1>changed</h1>\n");
    let out = p.ordo(&["deploy", "local", "--yes"]).code(2);
    assert!(out.stderr.contains("templates/index.html"), "{}", out.stderr);
    assert!(!out.stderr.contains("README.md"), "{}", out.stderr);
    assert!(!out.stderr.contains(".ordo-hosts"), "{}", out.stderr);
}
