//! `ordo rollback ENV [--to ENTRY|REV]`: an ordinary deploy of an earlier entry's
//! revision (decision 60). The hosts' histories (read from the environment as the
//! checkout ordo runs in declares it) choose the entry — the newest before the
//! current one that succeeded on every host, from a clean tree; when the hosts
//! disagree so that there is none, the candidates are listed and nothing happens.
//! Then the entry's commit is checked out and deployed with the entry's `--set`
//! values, through the same [`deploy::run`] as `ordo deploy --rev`: the plan is
//! shown, confirmed, applied — nothing in between can disagree with `ordo plan`.

use std::process::ExitCode;

use super::{deploy, timeline};
use crate::cli::{RollbackArgs, TargetArgs};
use crate::exec::history::{Merged, short as read_short};
use crate::problem::{Kind, Problem, Problems};
use crate::script::{SetOrigin, SetValue};
use crate::workspace::Workspace;

pub(crate) async fn run(ws: &Workspace, args: &RollbackArgs) -> Result<ExitCode, Problems> {
    let loaded = ws.load(&args.env).await?;
    ws.learn_secrets(&args.env);
    let model = &loaded.model;
    let every: Vec<_> = model.hosts.ids().collect();
    let read = tokio::select! {
        r = timeline::read(ws, model, &every) => r?,
        () = ws.cancelled() => return Err(deploy::interrupted()),
    };
    if !read.problems.is_empty() {
        let help =
            "a rollback reads the history of every host of the environment first; reach them all, then run it again";
        return Err(Problems(read.problems.into_iter().map(|p| p.help(help)).collect()));
    }
    let (commit, entry) = match &args.to {
        None => match read.timeline.rollback_target() {
            Ok(m) => (commit_of(m)?, Some(m)),
            Err(candidates) => return Err(no_target(&model.environment, &candidates).into()),
        },
        Some(to) => match read.timeline.find(to) {
            Ok(Some(m)) => (commit_of(m)?, Some(m)),
            Ok(None) => (to.clone(), None),
            Err(several) => {
                let ids: Vec<&str> = several.iter().map(|m| read_short(m.run())).collect();
                return Err(Problem::new(
                    Kind::Usage,
                    format!("--to {to} names several entries: {}", ids.join(", ")),
                )
                .help("give more characters of the run id (ordo log shows them)")
                .into());
            }
        },
    };
    let revision = deploy::checkout(ws, &commit, args.allow_any_rev).await?;
    let mut at = ws.at_revision(revision.root.clone());
    // The entry's values, unless this command line gives its own.
    if let Some(m) = entry
        && ws.config.sets.is_empty()
    {
        at.config.sets = recorded_sets(m)?;
    }
    let opts = deploy::Options {
        apply: true,
        yes: args.yes,
        break_lock: args.break_lock,
        allow_dirty: false,
        switch_environment: false,
        rollback: true,
        entry: entry.map(|m| (m.run().to_string(), m.begin.fingerprint.clone())),
        // A rollback goes back everywhere or not at all.
        skip: crate::exec::Skip::Never,
    };
    let target = TargetArgs {
        env: args.env.clone(),
        hosts: Vec::new(),
    };
    deploy::run(&at, &target, &opts, Some(&revision))
        .await
        .map(|_| ExitCode::SUCCESS)
}

/// The commit an entry deployed; an entry without one (no git) cannot be deployed again.
fn commit_of(m: &Merged) -> Result<String, Problems> {
    if m.begin.dirty {
        return Err(Problem::new(
            Kind::Usage,
            format!(
                "entry {} was deployed from a tree with uncommitted changes: its commit is not what it deployed",
                read_short(m.run())
            ),
        )
        .help("choose another entry (ordo log), or deploy that commit as it is with ordo deploy ENV --rev COMMIT")
        .into());
    }
    m.begin.commit.clone().ok_or_else(|| {
        Problem::new(
            Kind::Usage,
            format!(
                "entry {} records no commit (the project was not in git)",
                read_short(m.run())
            ),
        )
        .help("a rollback deploys an entry's commit again; choose an entry with one (ordo log)")
        .into()
    })
}

/// The `--set` and `--set-file` values an entry recorded, as this run's. A value
/// the history masked cannot be given again by ordo.
fn recorded_sets(m: &Merged) -> Result<Vec<SetValue>, Problems> {
    let masked: Vec<&str> = m
        .begin
        .set
        .iter()
        .filter(|s| s.masked)
        .map(|s| s.text.as_str())
        .collect();
    if !masked.is_empty() {
        return Err(Problem::new(
            Kind::Usage,
            format!(
                "entry {} was deployed with values the history keeps masked: {}",
                read_short(m.run()),
                masked.join(", ")
            ),
        )
        .help("give every value of that deploy again with --set (a --set on the command line replaces the entry's values)")
        .into());
    }
    let flags: Vec<String> = m.begin.set.iter().filter(|s| !s.file).map(|s| s.text.clone()).collect();
    let mut values = crate::cli::sets::parse(&flags, &[])?;
    for s in m.begin.set.iter().filter(|s| s.file) {
        // A --set-file value keeps its place below --set.
        let mut v = crate::cli::sets::parse(std::slice::from_ref(&s.text), &[])?;
        for v in &mut v {
            v.origin = SetOrigin::File(std::path::PathBuf::from(format!("entry {}", read_short(m.run()))));
        }
        values.extend(v);
    }
    Ok(values)
}

/// No entry to go back to: the candidates, each with the hosts it succeeded on.
fn no_target(env: &str, candidates: &[&Merged]) -> Problem {
    if candidates.is_empty() {
        return Problem::new(
            Kind::Usage,
            format!("nothing to roll back to: no earlier deploy of {env} succeeded on any host"),
        )
        .help("ordo log ENV shows the history; deploy a revision with ordo deploy ENV --rev REV");
    }
    let lines: Vec<String> = candidates
        .iter()
        .map(|m| {
            format!(
                "{} {} commit {}: ok on {}",
                read_short(m.run()),
                crate::text::visible(&m.begin.at, false),
                crate::text::visible(m.begin.commit.as_deref().unwrap_or("none"), false),
                m.ok_hosts().join(", ")
            )
        })
        .collect();
    Problem::new(
        Kind::Usage,
        format!(
            "no earlier deploy of {env} succeeded on every host; the hosts' histories disagree. Candidates:\n{}",
            lines.join("\n")
        ),
    )
    .help("choose one with --to ENTRY (ordo log ENV shows them all)")
}
