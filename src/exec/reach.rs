//! Hosts that could not be reached. By default any one of them stops the run
//! before anything changes, naming them all. `--skip-unreachable[=N|P%]` lets a
//! deploy go on without at most N of them (or P percent of the targeted hosts):
//! only hosts the network could not reach ([`Kind::Unreachable`]: a name that does
//! not resolve, a refused or timed-out connection, one dropped before the login) —
//! a host key that does not match or a refused login stays an error — and never a
//! host the plan ties to others: what it provides others require, it requires what
//! others provide, or its steps are ordered with steps on other hosts (`after`,
//! `once`, a rolling update's batches). Nothing is sent to a skipped host, so
//! nothing is recorded on it (decision 65).

use std::collections::BTreeSet;

use crate::model::{HostId, LinkReason, Model};
use crate::plan::{EdgeReason, Plan};
use crate::problem::{Kind, Problem, Problems};
use crate::text::plural;

/// How many unreachable hosts a run may go on without.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Skip {
    /// Any unreachable host stops the run (the default).
    #[default]
    Never,
    /// At most this many.
    AtMost(usize),
    /// At most this percentage of the targeted hosts (rounded down).
    Percent(u8),
    /// Any number, as long as one host is reached.
    Any,
}

impl Skip {
    /// The most hosts of `targeted` that may be skipped.
    pub fn limit(self, targeted: usize) -> usize {
        match self {
            Skip::Never => 0,
            Skip::AtMost(n) => n,
            Skip::Percent(p) => targeted * usize::from(p) / 100,
            Skip::Any => usize::MAX,
        }
    }

    /// How the command line said it, for messages.
    fn flag(self) -> String {
        match self {
            Skip::Never => "no --skip-unreachable".into(),
            Skip::AtMost(n) => format!("--skip-unreachable={n}"),
            Skip::Percent(p) => format!("--skip-unreachable={p}%"),
            Skip::Any => "--skip-unreachable".into(),
        }
    }
}

/// A host the run goes on without, and why it could not be reached.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub host: HostId,
    pub name: String,
    pub problem: Problem,
}

/// Whether a problem says that its host could not be reached (what may be skipped).
pub(crate) fn unreachable(p: &Problem) -> bool {
    p.kind == Kind::Unreachable
}

/// Checks only the number of `unreachable` hosts of `targeted` against `skip` (the
/// plan's ties are checked once it is known, [`allow`]): the run stops at once,
/// before any lock is taken, when there are too many.
pub(crate) fn within_limit(targeted: usize, unreachable: &[Skipped], skip: Skip) -> Result<(), Problems> {
    if unreachable.is_empty() {
        return Ok(());
    }
    let mut problems: Vec<Problem> = unreachable.iter().map(|s| s.problem.clone()).collect();
    if skip == Skip::Never {
        return Err(Problems(problems));
    }
    let limit = skip.limit(targeted);
    if unreachable.len() == targeted {
        problems.push(
            Problem::new(
                Kind::Unreachable,
                format!("none of the {} could be reached", plural(targeted, "host")),
            )
            .help("check the network from this machine (VPN, bastion, DNS) before anything else"),
        );
        return Err(Problems(problems));
    }
    if unreachable.len() > limit {
        problems.push(
            Problem::new(
                Kind::Unreachable,
                format!(
                    "{} of {} could not be reached, more than {} allows ({}); nothing was changed",
                    unreachable.len(),
                    plural(targeted, "host"),
                    skip.flag(),
                    plural(limit, "host")
                ),
            )
            .help("bring the hosts back, or allow more with --skip-unreachable=N or =P%"),
        );
        return Err(Problems(problems));
    }
    Ok(())
}

/// Decides whether the run goes on without `unreachable` (of `targeted` hosts):
/// the number within `skip`, and none of them tied to other hosts by the plan.
pub(crate) fn allow(
    model: &Model,
    plan: &Plan,
    targeted: usize,
    unreachable: Vec<Skipped>,
    skip: Skip,
) -> Result<Vec<Skipped>, Problems> {
    within_limit(targeted, &unreachable, skip)?;
    let mut problems = Vec::new();
    for s in &unreachable {
        let ties = ties(model, plan, s.host);
        if ties.is_empty() {
            continue;
        }
        problems.push(s.problem.clone());
        problems.push(
            Problem::new(
                Kind::Unreachable,
                format!("host `{}` cannot be skipped: {}", s.name, ties.join("; ")),
            )
            .on_host(&s.name)
            .help(
                "a host the plan ties to other hosts must be reached: the others' steps depend on it or are ordered with its steps. \
                 Bring it back, or leave out the hosts tied to it with --hosts",
            ),
        );
    }
    if problems.is_empty() {
        Ok(unreachable)
    } else {
        Err(Problems(problems))
    }
}

/// What ties `host` to other hosts in the plan, in words (empty: nothing).
pub(crate) fn ties(model: &Model, plan: &Plan, host: HostId) -> Vec<String> {
    let host_of = |s: crate::model::StepId| model.steps[s].host;
    let name = |h: HostId| model.hosts[h].name.clone();
    // (what, the other hosts), in the order found, without repeats.
    let mut found: Vec<(String, BTreeSet<String>)> = Vec::new();
    let mut add = |what: String, other: HostId| match found.iter_mut().find(|(w, _)| *w == what) {
        Some((_, hosts)) => {
            hosts.insert(name(other));
        }
        None => found.push((what, BTreeSet::from([name(other)]))),
    };
    for e in &plan.edges {
        let (from, to) = (host_of(e.from), host_of(e.to));
        if from == to || (from != host && to != host) {
            continue;
        }
        let (outgoing, other) = if from == host { (true, to) } else { (false, from) };
        let what = match &e.reason {
            EdgeReason::Link { link } => {
                let link = &model.links[*link];
                let (before, after) = (&model.components[link.before].name, &model.components[link.after].name);
                match (&link.reason, outgoing) {
                    (LinkReason::Provides { key }, true) => format!("it provides `{key}`, which `{after}` requires on"),
                    (LinkReason::Provides { key }, false) => format!("it requires `{key}` from `{before}` on"),
                    (LinkReason::Explicit, true) => format!("`{after}` is ordered after its `{before}` on"),
                    (LinkReason::Explicit, false) => format!("its `{after}` is ordered after `{before}` on"),
                }
            }
            EdgeReason::Once => {
                if outgoing {
                    "a step it runs once for every instance is waited for on".to_string()
                } else {
                    "it waits for a step that runs once for every instance on".to_string()
                }
            }
            EdgeReason::Batch { component, .. } => {
                format!("it is in a batch of the rolling update of `{component}`, ordered with")
            }
            EdgeReason::Sequence | EdgeReason::Trigger => "its steps are ordered with steps on".to_string(),
        };
        add(what, other);
    }
    found
        .into_iter()
        .map(|(what, hosts)| {
            let hosts: Vec<String> = hosts.into_iter().collect();
            let shown: Vec<&str> = hosts.iter().take(5).map(String::as_str).collect();
            let more = hosts.len().saturating_sub(shown.len());
            format!(
                "{what} {}{}",
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Id;

    fn skipped(host: usize, name: &str) -> Skipped {
        Skipped {
            host: HostId::new(host),
            name: name.into(),
            problem: Problem::new(Kind::Unreachable, format!("cannot reach host `{name}`"))
                .cause("connection refused")
                .on_host(name),
        }
    }

    #[test]
    fn limits_count_hosts_or_a_share_of_them() {
        assert_eq!(Skip::AtMost(3).limit(100), 3);
        assert_eq!(Skip::Percent(5).limit(100), 5);
        assert_eq!(Skip::Percent(5).limit(19), 0);
        assert_eq!(Skip::Never.limit(100), 0);
        let two = [skipped(0, "a"), skipped(1, "b")];
        assert!(within_limit(10, &two, Skip::AtMost(2)).is_ok());
        let err = within_limit(10, &two, Skip::AtMost(1)).unwrap_err();
        assert_eq!(err.0.len(), 3);
        assert!(
            err.0[2]
                .message
                .contains("2 of 10 hosts could not be reached, more than --skip-unreachable=1 allows (1 host)"),
            "{}",
            err.0[2].message
        );
        // Never: the hosts' own problems, as without the flag.
        assert_eq!(within_limit(10, &two, Skip::Never).unwrap_err().0.len(), 2);
        // Not one host reached: nothing to go on with.
        let err = within_limit(2, &two, Skip::Any).unwrap_err();
        assert!(err.0[2].message.contains("none of the 2 hosts could be reached"));
    }

    #[test]
    fn a_host_the_plan_ties_to_others_is_named_with_the_tie() {
        // db (host 0) → app (host 1) through a link; host 2 stands alone.
        let mut model = crate::plan::tests::model(
            &["db", "web", "solo"],
            &[("db", 0), ("app", 1), ("x", 2)],
            &[(0, "d"), (1, "a"), (2, "x")],
            &[(0, 1)],
        );
        model.links[crate::model::LinkId::new(0)].reason = LinkReason::Provides { key: "db:dsn".into() };
        let plan = Plan::build(&model).unwrap();
        assert_eq!(
            ties(&model, &plan, HostId::new(0)),
            ["it provides `db:dsn`, which `app` requires on web"]
        );
        assert_eq!(
            ties(&model, &plan, HostId::new(1)),
            ["it requires `db:dsn` from `db` on db"]
        );
        assert!(ties(&model, &plan, HostId::new(2)).is_empty());
        assert!(allow(&model, &plan, 3, vec![skipped(2, "solo")], Skip::Any).is_ok());
        let err = allow(&model, &plan, 3, vec![skipped(0, "db")], Skip::Any).unwrap_err();
        assert_eq!(
            err.0[1].message,
            "host `db` cannot be skipped: it provides `db:dsn`, which `app` requires on web"
        );
    }
}
