//! `ordo init [DIR]`: a new deployment repository that deploys on this machine at
//! once (`ordo deploy local --yes`) and says nothing to change the second time: a
//! service with one component (a directory, a rendered configuration and a command
//! that checks it when it changes), a `local` environment whose host lives in
//! `.ordo-hosts/`, a `production` environment to adapt, an empty recipients file for
//! secrets, and a `.gitignore` for the local hosts.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::InitArgs;
use crate::problem::{Kind, Problem, Problems};
use crate::report::{Event, Reporter};

pub(crate) fn run(args: &InitArgs, reporter: &dyn Reporter) -> Result<ExitCode, Problems> {
    let dir = &args.dir;
    let name = match &args.name {
        Some(n) => n.clone(),
        None => dir
            .canonicalize()
            .unwrap_or_else(|_| dir.clone())
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_else(|| "app".into()),
    };
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(Problem::new(Kind::Usage, format!("`{name}` cannot be a service name"))
            .help("use letters, digits, `-` and `_`; pass another with --name")
            .into());
    }
    if let Ok(mut entries) = std::fs::read_dir(dir)
        && entries.next().is_some()
    {
        return Err(Problem::new(Kind::Usage, format!("{} is not empty", dir.display()))
            .help("ordo init creates a new repository: give it a new or empty directory (ordo init DIR)")
            .into());
    }
    let files = files(&name);
    for (rel, text) in &files {
        write(dir, rel, text)?;
    }
    for (rel, _) in &files {
        reporter.event(&Event::Created {
            path: dir.join(rel).display().to_string(),
        });
    }
    reporter.event(&Event::Notice {
        host: None,
        level: crate::report::Level::Info,
        text: format!(
            "next: cd {} && ordo deploy local --yes (then edit environments/production.rhai)",
            dir.display()
        ),
        span: None,
    });
    Ok(ExitCode::SUCCESS)
}

fn write(dir: &Path, rel: &str, text: &str) -> Result<(), Problem> {
    let path = dir.join(rel);
    let fail = |e: std::io::Error| {
        Problem::new(Kind::Usage, format!("cannot write {}: {e}", path.display()))
            .help("check that the directory is writable")
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(&path, text).map_err(fail)
}

fn files(name: &str) -> Vec<(String, String)> {
    vec![
        (
            "ordo.rhai".into(),
            format!("// Project settings.\nproject(#{{ name: \"{name}\" }});\n"),
        ),
        (
            format!("services/{name}.rhai"),
            format!(
                "// The service, declared once: its components. Where they run is in environments/.\n\
                 import \"components/app\" as app;\n\n\
                 let svc = service(\"{name}\");\n\
                 svc.component(\"app\", |c| app::configure(c));\n"
            ),
        ),
        (
            "components/app.rhai".into(),
            "//! The application: a configuration rendered from a template, checked when it changes.\n\n\
             fn configure(c) {\n    \
                 let port = c.attr(\"port\", 8080);                 // overridable per environment\n    \
                 c.add(directory(\"etc\"));\n    \
                 let conf = c.add(template(\"etc/app.conf\", \"templates/app.conf\", #{ port: port }));\n    \
                 c.add(command(\"check config\", #{ run: \"grep -q '^port = ' etc/app.conf\", on_change: [conf] }));\n\
             }\n"
            .into(),
        ),
        (
            "templates/app.conf".into(),
            "# {{ component.name }} on {{ host.name }}, managed by ordo\nport = {{ port }}\n".into(),
        ),
        (
            "environments/local.rhai".into(),
            format!(
                "// The service on this machine: one \"host\" whose home directory is .ordo-hosts/app\n\
                 // (it stands in for a service user's home).\n\
                 let env = environment(\"local\", #{{ service: \"{name}\" }});\n\
                 env.host(\"app\", #{{ transport: \"local\", home: \".ordo-hosts/app\" }}).place(\"app\");\n"
            ),
        ),
        (
            "environments/production.rhai".into(),
            format!(
                "// The service on real machines, over SSH as the service user `{name}`.\n\
                 // Adjust the addresses; `ordo check production` validates without connecting.\n\
                 let env = environment(\"production\", #{{ service: \"{name}\", user: \"{name}\" }});\n\
                 env.host(\"app1\", #{{ address: \"app1.example.com\" }}).place(\"app\", #{{ port: 8081 }});\n"
            ),
        ),
        (
            "secrets/production.recipients".into(),
            "# Who can decrypt the secrets of `production`: one public key per line (age1…, ssh-ed25519, ssh-rsa),\n\
             # under a comment naming its owner. Add yours with `ordo secrets recipients add production KEY`.\n"
                .into(),
        ),
        (
            ".gitignore".into(),
            "# Homes of the local environment's hosts.\n.ordo-hosts/\n".into(),
        ),
    ]
}
