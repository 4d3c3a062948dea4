//! The controller's record of the hosts a deploy reached (`hosts.json` among the
//! [`ControllerState`] records of a project's environment): how to reach each — the
//! connection details the scripts gave —, when a deploy last reached it and who
//! ran it, and how that ended: `ok`, `failed`, or `retired` (its teardown is
//! complete). A host whose declaration was deleted has no address left in the
//! scripts; this record is how ordo still notices it, warns, and says how to
//! retire it (decision 57). It is a hint: no host is ever contacted because of it,
//! and losing it loses only those warnings.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::schedule::Totals;
use crate::model::{Host, HostId, Model, TransportSpec};
use crate::problem::{Kind, Problem};
use crate::project::Project;
use crate::project::controller_state::ControllerState;
use crate::report::{Event, ProblemReport, Reporter};

/// The record's name among the environment's records (`hosts.json`).
const RECORD: &str = "hosts";

/// Every host a deploy of the environment reached, by name.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ReachedHosts {
    #[serde(default)]
    pub hosts: BTreeMap<String, Reached>,
}

/// One host as the last deploy that reached it knew it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Reached {
    /// `ssh` or `local`.
    pub transport: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// A local host's home.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<PathBuf>,
    /// Where its components went (`~/deployment/<service>`).
    pub root: String,
    /// When the deploy that reached it started, and who ran it.
    pub at: String,
    pub by: String,
    pub result: Ending,
}

/// How the last deploy that reached a host ended there.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Its records were written: it runs what that deploy planned.
    Ok,
    /// Something failed there; it may hold part of what ordo created.
    Failed,
    /// It was retired and its teardown completed: nothing of ordo's is left.
    Retired,
}

impl Reached {
    fn of(host: &Host, at: &str, by: &str, result: Ending) -> Reached {
        let (transport, address, port, user, home) = match &host.transport {
            TransportSpec::Local { home } => ("local", None, None, None, Some(home.clone())),
            TransportSpec::Ssh { address, port, .. } => (
                "ssh",
                Some(address.clone()),
                *port,
                (!host.user.is_empty()).then(|| host.user.clone()),
                None,
            ),
        };
        Reached {
            transport: transport.to_string(),
            address,
            port,
            user,
            home,
            root: host.root.to_string(),
            at: at.to_string(),
            by: by.to_string(),
            result,
        }
    }

    /// Whether `host` is reached the same way (the same home, or the same
    /// `user@address:port`): a host that was only renamed.
    fn same_place(&self, host: &Host) -> bool {
        let other = Reached::of(host, "", "", self.result);
        (&self.transport, &self.address, &self.port, &self.user, &self.home)
            == (&other.transport, &other.address, &other.port, &other.user, &other.home)
    }

    /// The declaration that retires it: `env.host("lb", #{ … }).retire();`, with
    /// the connection details recorded (a local home relative to the project when
    /// it lies inside it) and the root when it is not the default one.
    pub fn retire_line(&self, name: &str, service: &str, project: &Path) -> String {
        let mut options = Vec::new();
        if self.transport == "local" {
            options.push("transport: \"local\"".to_string());
        }
        if let Some(a) = self.address.as_deref().filter(|a| *a != name) {
            options.push(format!("address: {}", rhai_string(a)));
        }
        if let Some(u) = &self.user {
            options.push(format!("user: {}", rhai_string(u)));
        }
        if let Some(p) = self.port {
            options.push(format!("port: {p}"));
        }
        if let Some(h) = &self.home {
            let shown = h.strip_prefix(project).unwrap_or(h);
            options.push(format!("home: {}", rhai_string(&shown.to_string_lossy())));
        }
        if self.root != format!("~/deployment/{service}") {
            options.push(format!("root: {}", rhai_string(&self.root)));
        }
        let options = if options.is_empty() {
            String::new()
        } else {
            format!(", #{{ {} }}", options.join(", "))
        };
        format!("env.host({}{options}).retire();", rhai_string(name))
    }
}

impl ReachedHosts {
    /// The record of `state`'s environment (empty when there is none).
    pub fn read(state: &ControllerState) -> ReachedHosts {
        state.read(RECORD).unwrap_or_default()
    }

    pub fn write(&self, state: &ControllerState) -> Result<(), Problem> {
        state.write(RECORD, self)
    }

    /// Notes what a deploy of `model` that started `at`, run `by`, did on the hosts
    /// it reached (`outcome`: the apply's totals per host). A retired host whose
    /// declaration is gone, or a host now declared under another name, leaves the
    /// record.
    pub fn note(&mut self, model: &Model, outcome: &HashMap<HostId, Totals>, at: &str, by: &str) {
        for (&id, totals) in outcome {
            let host = &model.hosts[id];
            let result = match (totals.recorded, host.retired) {
                (true, true) => Ending::Retired,
                (true, false) => Ending::Ok,
                (false, _) => Ending::Failed,
            };
            self.hosts.insert(host.name.clone(), Reached::of(host, at, by, result));
        }
        self.hosts.retain(|name, r| {
            declared(model, name).is_some()
                || (r.result != Ending::Retired && !model.hosts.iter().any(|h| r.same_place(h)))
        });
    }

    /// Hosts a deploy reached that the environment no longer declares (under any
    /// name), and whose teardown did not complete.
    pub fn undeclared<'a>(&'a self, model: &Model) -> Vec<(&'a str, &'a Reached)> {
        self.hosts
            .iter()
            .filter(|(name, r)| {
                r.result != Ending::Retired
                    && declared(model, name).is_none()
                    && !model.hosts.iter().any(|h| r.same_place(h))
            })
            .map(|(n, r)| (n.as_str(), r))
            .collect()
    }

    /// One warning per host in [`Self::undeclared`]: ordo does not touch it, and
    /// how to retire it (the line to add) or forget it.
    pub fn warnings(&self, model: &Model, project: &Path) -> Vec<Problem> {
        let env = &model.environment;
        self.undeclared(model)
            .into_iter()
            .map(|(name, r)| {
                Problem::new(
                    Kind::Model,
                    format!(
                        "host `{name}` is no longer declared in environment `{env}`, but a deploy reached it on {} (by {}); whatever ordo put there is left as it is",
                        r.at, r.by
                    ),
                )
                .help(format!(
                    "to stop and remove it, declare the host again, retired, in environments/{env}.rhai and deploy:\n    {}\nif the host is gone for good: ordo hosts forget {env} {name}",
                    r.retire_line(name, &model.service, project)
                ))
                .as_warning()
            })
            .collect()
    }
}

/// Reports a warning for every host of [`ReachedHosts::undeclared`] in `project`'s
/// record of `model`'s environment; returns how many.
pub fn warn_undeclared(project: &Project, model: &Model, reporter: &dyn Reporter) -> usize {
    let record = ReachedHosts::read(&ControllerState::new(project, &model.environment));
    let warnings = record.warnings(model, &project.root);
    for w in &warnings {
        reporter.event(&Event::Warning {
            report: ProblemReport::of(w),
            problem: std::sync::Arc::new(w.clone()),
        });
    }
    warnings.len()
}

fn declared(model: &Model, name: &str) -> Option<HostId> {
    model.hosts.ids().find(|&h| model.hosts[h].name == name)
}

/// `s` as a Rhai string literal.
fn rhai_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HostPath, Id};

    fn model(hosts: &[(&str, &str, bool)]) -> Model {
        let mut m = crate::plan::tests::model(&hosts.iter().map(|h| h.0).collect::<Vec<_>>(), &[], &[], &[]);
        for (h, (_, address, retired)) in m.hosts.iter_mut().zip(hosts) {
            h.transport = TransportSpec::Ssh {
                address: (*address).into(),
                port: None,
                user: None,
            };
            h.root = HostPath::new("~/deployment/s").unwrap();
            h.retired = *retired;
        }
        m
    }

    fn done(recorded: bool) -> Totals {
        Totals {
            recorded,
            ..Totals::default()
        }
    }

    #[test]
    fn a_deleted_host_is_undeclared_until_it_is_retired_or_forgotten() {
        let before = model(&[("web", "10.0.0.1", false), ("lb", "10.0.0.5", false)]);
        let mut record = ReachedHosts::default();
        let outcome = HashMap::from([(HostId::new(0), done(true)), (HostId::new(1), done(false))]);
        record.note(&before, &outcome, "then", "me@here");
        assert_eq!(record.hosts["lb"].result, Ending::Failed);
        assert_eq!(record.hosts["web"].user.as_deref(), Some("u"));

        let after = model(&[("web", "10.0.0.1", false)]);
        let undeclared: Vec<&str> = record.undeclared(&after).into_iter().map(|(n, _)| n).collect();
        assert_eq!(undeclared, ["lb"]);
        let w = &record.warnings(&after, Path::new("/p"))[0];
        assert!(w.is_warning());
        assert!(
            w.message.contains(
                "host `lb` is no longer declared in environment `test`, but a deploy reached it on then (by me@here)"
            ),
            "{}",
            w.message
        );
        let help = w.help.as_deref().unwrap();
        assert!(
            help.contains("    env.host(\"lb\", #{ address: \"10.0.0.5\", user: \"u\" }).retire();\n"),
            "{help}"
        );
        assert!(help.ends_with("ordo hosts forget test lb"), "{help}");

        // Renamed, same place: not orphaned; a deploy drops the old name.
        let renamed = model(&[("web", "10.0.0.1", false), ("lb2", "10.0.0.5", false)]);
        assert!(record.undeclared(&renamed).is_empty());

        // Retired and torn down: nothing to warn about, then the entry goes.
        let retired = model(&[("web", "10.0.0.1", false), ("lb", "10.0.0.5", true)]);
        record.note(
            &retired,
            &HashMap::from([(HostId::new(1), done(true))]),
            "now",
            "me@here",
        );
        assert_eq!(record.hosts["lb"].result, Ending::Retired);
        assert!(record.undeclared(&after).is_empty());
        record.note(&after, &HashMap::new(), "later", "me@here");
        assert!(!record.hosts.contains_key("lb"));
    }

    #[test]
    fn the_retire_line_names_what_differs_from_the_defaults() {
        let project = Path::new("/srv/p");
        let local = Reached {
            transport: "local".into(),
            address: None,
            port: None,
            user: None,
            home: Some(PathBuf::from("/srv/p/hosts/a \"b\"")),
            root: "~/apps".into(),
            at: String::new(),
            by: String::new(),
            result: Ending::Ok,
        };
        assert_eq!(
            local.retire_line("h", "s", project),
            r#"env.host("h", #{ transport: "local", home: "hosts/a \"b\"", root: "~/apps" }).retire();"#
        );
        let ssh = Reached {
            transport: "ssh".into(),
            address: Some("lb".into()),
            port: Some(2222),
            home: None,
            root: "~/deployment/s".into(),
            ..local
        };
        assert_eq!(
            ssh.retire_line("lb", "s", project),
            r#"env.host("lb", #{ port: 2222 }).retire();"#
        );
    }
}
