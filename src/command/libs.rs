//! `ordo libs list|update`: the recipe libraries `ordo.rhai` declares, and the pins
//! of the git ones in `ordo.lock`.

use std::process::ExitCode;

use crate::cli::{LibsArgs, LibsCommand};
use crate::problem::Problems;
use crate::project::library::{self, GitLibrary};
use crate::report::Event;
use crate::script::{self, LibrarySource};
use crate::workspace::Workspace;

pub(crate) fn run(ws: &Workspace, args: &LibsArgs) -> Result<ExitCode, Problems> {
    let declared = script::declared_libraries(&ws.project)?;
    let root = &ws.project.root;
    match &args.command {
        LibsCommand::List => {
            for d in &declared {
                ws.reporter.event(&match &d.source {
                    LibrarySource::Path(path) => Event::Library {
                        name: d.name.clone(),
                        kind: "directory",
                        location: path.clone(),
                        reference: None,
                        commit: None,
                        cached: root.join(path).is_dir(),
                        stale: None,
                    },
                    LibrarySource::Git(git) => {
                        let pin = library::pinned(root, git)?;
                        let commit = pin.as_ref().map(|p| p.commit.clone());
                        Event::Library {
                            name: d.name.clone(),
                            kind: "git",
                            location: git.url.clone(),
                            reference: git.reference.clone(),
                            // The cache is keyed by URL: a pin for another URL is not there.
                            cached: pin.as_ref().is_some_and(|p| p.git == git.url)
                                && commit.as_deref().is_some_and(|c| library::cached(git, c)),
                            stale: pin.as_ref().and_then(|p| p.stale_for(git)),
                            commit,
                        }
                    }
                });
            }
        }
        LibsCommand::Update { names } => {
            let git: Vec<GitLibrary> = declared
                .iter()
                .filter_map(|d| match &d.source {
                    LibrarySource::Git(g) => Some(g.clone()),
                    LibrarySource::Path(_) => None,
                })
                .collect();
            for (name, from, to) in library::update(root, &git, names)? {
                ws.reporter.event(&Event::LibraryPinned { name, from, to });
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
