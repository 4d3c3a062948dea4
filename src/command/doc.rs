//! `ordo doc [NAME]`, `ordo doc --reference DIR` and `ordo definitions DIR`: the
//! reference generated from the code (see `doc`), for people, for `docs/`, and for
//! the Rhai language server.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use crate::cli::{DefinitionsArgs, DocArgs};
use crate::problem::suggest::did_you_mean;
use crate::problem::{Kind, Problem, Problems};

pub(crate) fn doc(args: &DocArgs) -> Result<ExitCode, Problems> {
    if let Some(dir) = &args.reference {
        for (name, text) in crate::doc::reference() {
            write(dir, name, &text)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let text = match &args.name {
        None => format!(
            "ordo doc NAME prints the reference of one of:\n{}\n",
            crate::doc::names().join("\n")
        ),
        Some(name) => {
            let key = name.strip_prefix("c.").unwrap_or(name);
            crate::doc::entry(key).ok_or_else(|| {
                let names = crate::doc::names();
                Problem::new(Kind::Usage, format!("nothing is called `{name}`")).help(format!(
                    "{}`ordo doc` lists every function, primitive, module and subcommand",
                    did_you_mean(key, names.iter().map(String::as_str))
                ))
            })?
        }
    };
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn definitions(args: &DefinitionsArgs) -> Result<ExitCode, Problems> {
    for (name, text) in crate::doc::definitions() {
        write(&args.dir, &name, &text)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), Problem> {
    let path = dir.join(name);
    std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, text))
        .map_err(|e| Problem::new(Kind::Usage, format!("cannot write {}: {e}", path.display())))
}
