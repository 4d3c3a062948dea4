//! Two steps managing the same path on one host would overwrite each other on every
//! deploy (and the second rename of a batch would fail half-way). This is found at
//! check time, after normalising `~`, `..` and trailing slashes (and, on local
//! hosts, the home directory): two steps on one path, or a step under a path that
//! another step keeps as a file or symlink, are an error naming both script lines.
//! The same directory declared twice with the same settings is fine.

use std::collections::HashMap;

use crate::model::{HostId, Model, StepId, TransportSpec};
use crate::primitive::{Managed, ManagedKind};
use crate::problem::{Kind, Problem, Problems};

pub(super) fn check(model: &Model) -> Result<(), Problems> {
    let mut problems = Vec::new();
    let mut by_host: HashMap<HostId, HashMap<String, (StepId, Managed)>> = HashMap::new();
    for step in &model.steps {
        let Some(managed) = step.action.managed() else { continue };
        let key = comparable(model, step.host, &managed);
        let paths = by_host.entry(step.host).or_default();
        match paths.get(&key) {
            Some((first, other)) => {
                let same_directory = managed.kind == ManagedKind::Directory
                    && other.kind == ManagedKind::Directory
                    && managed.shareable == other.shareable;
                if !same_directory {
                    problems.push(clash(model, *first, step.id, &managed, "both manage"));
                }
            }
            None => {
                paths.insert(key, (step.id, managed));
            }
        }
    }
    // A managed file or symlink cannot have managed paths below it.
    let mut hosts: Vec<&HostId> = by_host.keys().collect();
    hosts.sort();
    for host in hosts {
        let paths = &by_host[host];
        let mut entries: Vec<(&String, &(StepId, Managed))> = paths.iter().collect();
        entries.sort_by_key(|(_, (s, _))| *s);
        for (path, (step, managed)) in entries {
            let mut parent = path.as_str();
            while let Some((up, _)) = parent.rsplit_once('/') {
                parent = up;
                if let Some((above, kind)) = paths.get(parent).map(|(s, m)| (*s, m.kind))
                    && kind != ManagedKind::Directory
                {
                    let (first, second) = if above < *step { (above, *step) } else { (*step, above) };
                    let what = if kind == ManagedKind::File {
                        "put a path below a file:"
                    } else {
                        "write through a symlink:"
                    };
                    problems.push(clash(model, first, second, managed, what));
                    break;
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Problems(problems))
    }
}

/// The path with the home of a local host written as `~`, so `~/x` and
/// `/home/u/x` compare equal where the home is known.
fn comparable(model: &Model, host: HostId, managed: &Managed) -> String {
    let path = managed.path.as_str();
    if let TransportSpec::Local { home } = &model.hosts[host].transport
        && let Some(rest) = path.strip_prefix(&*home.to_string_lossy())
        && (rest.is_empty() || rest.starts_with('/'))
    {
        return format!("~{rest}");
    }
    path.to_string()
}

fn clash(model: &Model, first: StepId, second: StepId, managed: &Managed, what: &str) -> Problem {
    let host = &model.hosts[model.steps[second].host].name;
    Problem::new(
        Kind::Model,
        format!(
            "{} and {} {what} `{}` on host `{host}`",
            model.step_path(first),
            model.step_path(second),
            managed.path
        ),
    )
    .at(model.steps[second].span.as_ref(), "this step")
    .at(model.steps[first].span.as_ref(), "and this one")
    .in_context(
        model.components[model.steps[second].component].declared.as_ref(),
        "in this component, through a library it calls",
    )
    .help(
        "each path on a host belongs to one step; all components of a host share one root \
         (~/deployment/<service> unless the environment sets `root`), so give one of them another path",
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::model::{HostPath, Id, StepId};
    use crate::plan::tests::model;
    use crate::primitive::file::File;

    #[test]
    fn two_steps_on_one_path_are_an_error() {
        let mut m = model(&["h"], &[("a", 0), ("b", 0)], &[(0, "x"), (1, "y")], &[]);
        let path = HostPath::new("~/d/etc/app.conf").unwrap();
        for s in [0, 1] {
            m.steps[StepId::new(s)].action =
                Arc::new(File::new("etc/app.conf".into(), path.clone(), b"x".to_vec().into()));
        }
        let err = super::check(&m).unwrap_err().0.remove(0);
        assert!(
            err.message.contains("both manage `~/d/etc/app.conf` on host `h`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_path_below_a_file_is_an_error_and_shared_directories_are_fine() {
        let mut m = model(&["h"], &[("a", 0), ("b", 0)], &[(0, "x"), (1, "y"), (1, "z")], &[]);
        m.steps[StepId::new(0)].action = Arc::new(File::new(
            "etc".into(),
            HostPath::new("~/d/etc").unwrap(),
            b"x".to_vec().into(),
        ));
        m.steps[StepId::new(1)].action = Arc::new(File::new(
            "etc/app.conf".into(),
            HostPath::new("~/d/etc/app.conf").unwrap(),
            b"x".to_vec().into(),
        ));
        let err = super::check(&m).unwrap_err().0.remove(0);
        assert!(err.message.contains("put a path below a file"), "{}", err.message);

        let same_dirs = model(&["h"], &[("a", 0), ("a", 0)], &[(0, "x"), (1, "x")], &[]);
        assert!(super::check(&same_dirs).is_ok());
    }

    #[test]
    fn home_and_tilde_paths_are_the_same_on_local_hosts() {
        let mut m = model(&["h"], &[("a", 0), ("b", 0)], &[(0, "x"), (1, "y")], &[]);
        m.steps[StepId::new(0)].action = Arc::new(File::new(
            "x".into(),
            HostPath::new("/tmp/d/x").unwrap(),
            b"x".to_vec().into(),
        ));
        m.steps[StepId::new(1)].action = Arc::new(File::new(
            "x".into(),
            HostPath::new("~/d/x").unwrap(),
            b"x".to_vec().into(),
        ));
        assert!(super::check(&m).is_err());
    }
}
