//! `ordo run ENV -- CMD`: an ad-hoc command on hosts in parallel (bounded by
//! `--jobs`), output grouped per host in host order.

use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::RunArgs;
use crate::exec::{HostRun, fan_out};
use crate::problem::Problems;
use crate::report::{Event, Stream};
use crate::workspace::Workspace;

pub(crate) async fn run(ws: &Workspace, args: &RunArgs) -> Result<ExitCode, Problems> {
    let loaded = ws.load(&args.target.env).await?;
    ws.learn_secrets(&args.target.env);
    let targets = ws.select(&loaded.model, &args.target.hosts)?;
    let hosts = ws.connect(&loaded.model, &targets).await?;
    let command = args.command.join(" ");
    // Every command runs in the service user's home (a local host's home is created
    // first); a home that cannot be entered is an error, never a silent run elsewhere.
    let script = format!(
        "[ -d \"$HOME\" ] || mkdir -p -- \"$HOME\" 2>/dev/null\nif ! cd -- \"${{HOME%/}}\" 2>/dev/null; then echo \"ordo: cannot enter the home directory $HOME\" >&2; exit 125; fi\n{command}\n"
    );
    let runs: Vec<Arc<HostRun>> = hosts.iter().cloned().collect();
    let results = fan_out(
        runs.clone(),
        hosts.settings.jobs,
        |r| format!("host `{}`", r.name),
        |r: Arc<HostRun>| {
            let script = script.clone();
            async move { r.exec_command(script).await }
        },
    )
    .await;
    hosts.close().await;
    let mut failed = 0;
    for (r, result) in runs.iter().zip(results) {
        let host = r.name.clone();
        match result {
            Ok(out) => {
                if out.code != 0 {
                    failed += 1;
                }
                ws.reporter.event(&Event::CommandDone {
                    host: host.clone(),
                    code: Some(out.code),
                    error: None,
                });
                for (stream, text, dropped) in [
                    (Stream::Stdout, &out.stdout, out.stdout_dropped),
                    (Stream::Stderr, &out.stderr, out.stderr_dropped),
                ] {
                    if dropped > 0 {
                        ws.reporter.event(&Event::Output {
                            host: host.clone(),
                            stream,
                            line: format!("… ({dropped} bytes before these lines not kept)"),
                        });
                    }
                    ws.reporter.output(&host, stream, text);
                }
            }
            Err(p) => {
                failed += 1;
                ws.reporter.event(&Event::CommandDone {
                    host,
                    code: None,
                    error: Some(p.message),
                });
            }
        }
    }
    Ok(if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
