//! The same problem on several hosts, shown once: a missing secret, a broken
//! template or a command failing alike on every host of a role is one mistake, and
//! printing it per host buries it (and whatever else went wrong) under copies.
//!
//! Two problems are the same when they differ only in their host: the texts are
//! compared with the host's name (as a whole word) taken out, and labels that name
//! the host (`` `app` placed on `web1` here ``) may lie at different places. The
//! first problem stands for all of them; its message gets a line listing the hosts,
//! and the labels that named one host name every host they stand for.
//!
//! Problems that say their cause in a few words ([`Problem::cause`]: "connection
//! refused") are grouped by it instead, whatever else differs (an address, a port):
//! across a fleet the question is which hosts failed how, so the group leads with
//! "connection refused on 12 hosts: web013, web047, …" and shows the first host's
//! message as the example.

use super::{Label, Problem, Problems};
use crate::source::Span;

/// What a host's name is replaced with when problems are compared.
const HOST: &str = "\u{1}";

/// The most hosts a message or label names; the rest are counted.
const LISTED: usize = 10;

impl Problems {
    /// Merges problems that differ only in their host into the first of them,
    /// which keeps its place.
    pub(super) fn merge_hosts(&mut self) {
        let problems = std::mem::take(&mut self.0);
        let mut groups: Vec<(Option<String>, Vec<Problem>)> = Vec::new();
        for p in problems {
            let key = p.host.as_deref().map(|h| match &p.cause {
                Some(cause) => format!("{:?}|{}|cause {cause}", p.kind, p.warning),
                None => shape(&p, h),
            });
            let joins = key.as_ref().and_then(|k| {
                groups
                    .iter()
                    .position(|(gk, g)| gk.as_ref() == Some(k) && !g.iter().any(|q| q.host == p.host))
            });
            match joins {
                Some(i) => groups[i].1.push(p),
                None => groups.push((key, vec![p])),
            }
        }
        self.0 = groups.into_iter().map(|(_, group)| merge(group)).collect();
    }
}

/// The problem as text, the host's name taken out; labels naming the host count
/// by their text only (their place may differ from host to host).
fn shape(p: &Problem, host: &str) -> String {
    let mut out = format!(
        "{:?}|{}|{}|{}|{}",
        p.kind,
        p.warning,
        p.advice,
        without(&p.message, host),
        p.help.as_deref().map(|h| without(h, host)).unwrap_or_default()
    );
    for l in p.labels.iter().chain(&p.context) {
        let text = without(&l.text, host);
        if text.contains(HOST) {
            out.push_str(&format!("|host label {text}"));
        } else {
            out.push_str(&format!("|label {} {text}", l.span));
        }
    }
    for r in &p.related {
        out.push_str(&format!("|related({})", shape(r, host)));
    }
    out
}

fn merge(mut group: Vec<Problem>) -> Problem {
    if group.len() == 1 {
        return group.pop().expect("one problem");
    }
    let hosts: Vec<String> = group.iter().filter_map(|p| p.host.clone()).collect();
    if let Some(cause) = group[0].cause.clone() {
        let mut first = group.swap_remove(0);
        let host = first.host.clone().unwrap_or_default();
        first.message = format!(
            "{cause} on {} hosts: {}\n{}",
            hosts.len(),
            list(&hosts, ", "),
            first.message
        );
        first.help = first.help.map(|h| with_hosts(&without(&h, &host), &hosts));
        first.resolve();
        return first;
    }
    // The labels naming a host, by position: the same label of every problem.
    let specific = |p: &Problem| -> Vec<(Span, String, String)> {
        let host = p.host.as_deref().unwrap_or_default();
        p.labels
            .iter()
            .map(|l| (l, without(&l.text, host)))
            .filter(|(_, text)| text.contains(HOST))
            .map(|(l, text)| (l.span.clone(), text, host.to_string()))
            .collect()
    };
    let per_problem: Vec<Vec<(Span, String, String)>> = group.iter().map(specific).collect();
    let mut first = group.swap_remove(0);
    let host = first.host.clone().unwrap_or_default();
    let mut labels = Vec::with_capacity(first.labels.len());
    let mut position = 0;
    for label in std::mem::take(&mut first.labels) {
        if !without(&label.text, &host).contains(HOST) {
            labels.push(label);
            continue;
        }
        // Every place this label has across the hosts, with the hosts there.
        let mut places: Vec<(Span, String, Vec<String>)> = Vec::new();
        for (span, text, host) in per_problem.iter().filter_map(|p| p.get(position)) {
            match places.iter_mut().find(|(s, _, _)| s == span) {
                Some((_, _, hosts)) => hosts.push(host.clone()),
                None => places.push((span.clone(), text.clone(), vec![host.clone()])),
            }
        }
        position += 1;
        labels.extend(places.into_iter().map(|(span, text, hosts)| Label {
            span,
            text: with_hosts(&text, &hosts),
        }));
    }
    first.labels = labels;
    first.message = format!("{}\non {} hosts: {}", first.message, hosts.len(), list(&hosts, ", "));
    first.resolve();
    first
}

/// `text` with every whole-word `host` replaced by [`HOST`]. Host names hold
/// letters, digits, `-`, `.` and `_`: `web1` is not a word of `web10` or
/// `web1.example.com`.
fn without(text: &str, host: &str) -> String {
    if host.is_empty() {
        return text.to_string();
    }
    let word = |c: char| c.is_alphanumeric() || matches!(c, '-' | '.' | '_');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(host) {
        let before = rest[..i].chars().next_back();
        let after = rest[i + host.len()..].chars().next();
        let bounded = !before.is_some_and(word) && !after.is_some_and(word);
        out.push_str(&rest[..i]);
        out.push_str(if bounded { HOST } else { host });
        rest = &rest[i + host.len()..];
    }
    out.push_str(rest);
    out
}

/// A label's text with its host put back as the list of `hosts`.
fn with_hosts(text: &str, hosts: &[String]) -> String {
    let text = &if hosts.len() > 1 {
        text.replace(&format!("host `{HOST}`"), &format!("hosts `{HOST}`"))
            .replace(&format!("host {HOST}"), &format!("hosts {HOST}"))
    } else {
        text.to_string()
    };
    let quoted = format!("`{HOST}`");
    if text.contains(&quoted) {
        let names: Vec<String> = hosts.iter().map(|h| format!("`{h}`")).collect();
        return text.replace(&quoted, &list(&names, ", "));
    }
    text.replace(HOST, &list(hosts, ", "))
}

fn list(names: &[String], separator: &str) -> String {
    let mut out = names.iter().take(LISTED).cloned().collect::<Vec<_>>().join(separator);
    if names.len() > LISTED {
        out.push_str(&format!(" and {} more", names.len() - LISTED));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::problem::Kind;

    fn on(host: &str, line: u32) -> Problem {
        Problem::new(Kind::Secrets, "no secret `db_password`")
            .at(Some(&Span::new("services/s.rhai", 4, 9)), "used here")
            .at(
                Some(&Span::new("environments/test.rhai", line, 5)),
                format!("`app` placed on `{host}` here"),
            )
            .on_host(host)
    }

    #[test]
    fn the_same_problem_on_several_hosts_is_one() {
        let mut ps = Problems(vec![on("web2", 3), on("web1", 3), on("web10", 4)]);
        ps.sort();
        assert_eq!(ps.0.len(), 1, "{:?}", ps.0);
        let p = &ps.0[0];
        assert_eq!(p.message, "no secret `db_password`\non 3 hosts: web1, web10, web2");
        let labels: Vec<(String, &str)> = p.labels.iter().map(|l| (l.span.to_string(), l.text.as_str())).collect();
        assert_eq!(
            labels,
            [
                ("services/s.rhai:4:9".to_string(), "used here"),
                (
                    "environments/test.rhai:3:5".to_string(),
                    "`app` placed on `web1`, `web2` here"
                ),
                ("environments/test.rhai:4:5".to_string(), "`app` placed on `web10` here"),
            ]
        );
    }

    #[test]
    fn failures_with_one_cause_on_many_hosts_are_one_group() {
        let refused = |host: &str, port: u16| {
            Problem::new(
                Kind::Unreachable,
                format!("cannot reach host `{host}`: 127.0.0.1 port {port} refused the connection"),
            )
            .help(format!("is sshd running? Check the `port` of host `{host}`"))
            .cause("connection refused")
            .on_host(host)
        };
        let timeout = Problem::new(Kind::Unreachable, "cannot reach host `web9`: timed out")
            .cause("connection timed out")
            .on_host("web9");
        let hosts: Vec<String> = (1..=12).map(|i| format!("web{i:03}")).collect();
        let mut ps = Problems(
            hosts
                .iter()
                .enumerate()
                .map(|(i, h)| refused(h, 2000 + i as u16))
                .chain([timeout])
                .collect(),
        );
        ps.sort();
        assert_eq!(ps.0.len(), 2, "{:?}", ps.0);
        assert_eq!(
            ps.0[0].message,
            "connection refused on 12 hosts: web001, web002, web003, web004, web005, web006, web007, web008, web009, web010 and 2 more\ncannot reach host `web001`: 127.0.0.1 port 2000 refused the connection"
        );
        assert_eq!(
            ps.0[0].help.as_deref(),
            Some(
                "is sshd running? Check the `port` of hosts `web001`, `web002`, `web003`, `web004`, `web005`, `web006`, `web007`, `web008`, `web009`, `web010` and 2 more"
            )
        );
        assert_eq!(ps.0[1].message, "cannot reach host `web9`: timed out");
    }

    #[test]
    fn problems_that_differ_in_more_than_the_host_stay_apart() {
        let other = Problem::new(Kind::Secrets, "no secret `api_token`")
            .at(Some(&Span::new("services/s.rhai", 4, 9)), "used here")
            .on_host("web2");
        let elsewhere = Problem::new(Kind::Secrets, "no secret `db_password`")
            .at(Some(&Span::new("services/s.rhai", 9, 9)), "used here")
            .on_host("web3");
        let no_host = Problem::new(Kind::Secrets, "no secret `db_password`")
            .at(Some(&Span::new("services/s.rhai", 4, 9)), "used here");
        let mut ps = Problems(vec![on("web1", 3), other, elsewhere, no_host.clone(), no_host]);
        ps.sort();
        assert_eq!(ps.0.len(), 5);
        assert!(ps.0.iter().all(|p| !p.message.contains("hosts:")));
    }

    #[test]
    fn a_host_is_a_whole_word() {
        assert_eq!(
            without("web1:app on web1.example.com, web10 and web1", "web1"),
            "\u{1}:app on web1.example.com, web10 and \u{1}"
        );
        assert_eq!(
            with_hosts("failed on host \u{1}", &["a".into(), "b".into()]),
            "failed on hosts a, b"
        );
        assert_eq!(with_hosts("failed on host \u{1}", &["a".into()]), "failed on host a");
    }
}
