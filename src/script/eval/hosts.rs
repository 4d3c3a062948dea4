//! Hosts that are really the same place. Two local hosts with one `home`, or two
//! ssh hosts with one `user@address:port`, share the state directory and the deploy
//! lock: the second would wait on the first's lock in every deploy. Reported at
//! check time, with both declarations.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::model::TransportSpec;
use crate::problem::{Kind, Problem};
use crate::script::session::Declarations;

pub(crate) fn colliding(decl: &Declarations) -> Vec<Problem> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut problems = Vec::new();
    for (i, host) in decl.hosts.iter().enumerate() {
        let (key, what) = match &host.transport {
            TransportSpec::Local { home } => (
                format!("local {}", same_dir(home).display()),
                format!("home {}", home.display()),
            ),
            TransportSpec::Ssh { address, port, .. } => {
                let port = port.map(|p| format!(":{p}")).unwrap_or_default();
                let user = if host.user.is_empty() {
                    String::new()
                } else {
                    format!("{}@", host.user)
                };
                let place = format!("{user}{address}{port}");
                (format!("ssh {place}"), place)
            }
        };
        let Some(&first) = seen.get(&key) else {
            seen.insert(key, i);
            continue;
        };
        let other = &decl.hosts[first];
        problems.push(
            Problem::new(
                Kind::Model,
                format!("hosts `{}` and `{}` are the same place ({what})", other.name, host.name),
            )
            .at(host.span.as_ref(), "declared here")
            .at(other.span.as_ref(), format!("`{}` declared here", other.name))
            .help(
                "they would share one state directory and lock each other out; \
                 give each local host its own `home`, or place both hosts' components on one host",
            ),
        );
    }
    problems
}

/// The directory itself where it exists (symbolic links resolved), else the path
/// with `.` and `..` resolved by hand.
fn same_dir(path: &Path) -> PathBuf {
    if let Ok(p) = path.canonicalize() {
        return p;
    }
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
