//! `ordo run ENV -- CMD`: an ad-hoc command on hosts in parallel.

use std::process::ExitCode;

use crate::app::{load, select, ssh_options};
use crate::exec;
use crate::problem::{Problem, Problems};
use crate::project::Project;
use crate::report::Reporter;

/// `ordo run ENV -- CMD`: the command on every selected host in parallel, output
/// grouped per host in host order; exit code 1 if it failed anywhere.
pub(crate) async fn run_command(
    project: &Project,
    args: &crate::cli::RunArgs,
    reporter: &dyn Reporter,
) -> Result<ExitCode, Problems> {
    let (model, _plan, _evaluated) = load(project, &args.target.env).await?;
    let selected = select(&model, &args.target.hosts)?;
    let hosts = exec::connect(&model, &selected, &ssh_options(project, &args.target)).await?;
    let command = args.command.join(" ");
    let script = format!("cd \"$HOME\" 2>/dev/null\n{command}\n");
    let mut tasks = tokio::task::JoinSet::new();
    for (h, t) in hosts.targeted() {
        let (t, script) = (t.clone(), script.clone());
        tasks.spawn(async move { (h, t.exec(script).await) });
    }
    let mut results: Vec<(usize, Result<crate::model::RunOutput, Problem>)> = Vec::new();
    while let Some(Ok(r)) = tasks.join_next().await {
        results.push(r);
    }
    hosts.close().await;
    results.sort_by_key(|(h, _)| *h);
    let mut failed = 0;
    for (h, r) in results {
        let name = &model.hosts[h].name;
        match r {
            Ok(out) => {
                let status = if out.code == 0 {
                    "ok".to_string()
                } else {
                    format!("exit {}", out.code)
                };
                if out.code != 0 {
                    failed += 1;
                }
                reporter.text(&format!("── {name} ({status})"));
                for line in out.stdout.lines() {
                    reporter.text(line);
                }
                for line in out.stderr.lines() {
                    reporter.text(&format!("stderr: {line}"));
                }
            }
            Err(p) => {
                failed += 1;
                reporter.text(&format!("── {name} (failed: {})", p.message));
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
