//! `ordo secrets …`: keep an environment's secrets encrypted in the repository and
//! change them safely. Plaintext goes only to `show`'s stdout and to the private
//! draft file of an edit; values come in on stdin, never on the command line.
//! Everything here works on the project's files alone: no host is contacted.

mod edit;
mod json;
mod keys;

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::cli::{Format, RecipientsCommand, SecretsArgs, SecretsCommand};
use crate::problem::suggest::{did_you_mean, list_or_none};
use crate::problem::{Kind, Problem, Problems};
use crate::project::Project;
use crate::secrets::{Identities, SecretBytes, SecretStore, Written, check_name, render_plain};

use edit::{edit_file, edit_values};
use keys::{add_recipient, keygen, list_recipients, rekey, remove_recipient};

pub(crate) fn secrets(start: &Path, format: Format, args: SecretsArgs) -> Result<ExitCode, Problems> {
    if let SecretsCommand::Keygen { output } = &args.command {
        keygen(output.as_deref())?;
        return Ok(ExitCode::SUCCESS);
    }
    let project = Project::discover(start)?;
    match args.command {
        SecretsCommand::Keygen { .. } => unreachable!("handled above"),
        SecretsCommand::Edit { env, file, from } => {
            let store = store(&project, &env)?;
            match file {
                None => edit_values(&store, from.as_deref())?,
                Some(name) => edit_file(&store, &name, from.as_deref())?,
            }
        }
        SecretsCommand::Show { env, key, file } => {
            show(&store(&project, &env)?, key.as_deref(), file.as_deref(), format)?
        }
        SecretsCommand::Set { env, key, file } => {
            let store = store(&project, &env)?;
            match (key, file) {
                (_, Some(name)) => set_file(&store, &name)?,
                (Some(key), None) => set_value(&store, &key)?,
                (None, None) => unreachable!("clap requires KEY or --file"),
            }
        }
        SecretsCommand::Remove { env, name } => {
            let store = store(&project, &env)?;
            let _lock = store.lock("editing")?;
            let w = store.remove(&name)?;
            report(&store, &w);
        }
        SecretsCommand::List { env } => list(&store(&project, &env)?, format)?,
        SecretsCommand::Recipients(r) => match r.command {
            RecipientsCommand::List { env } => list_recipients(&store(&project, &env)?, format)?,
            RecipientsCommand::Add { env, key, name } => {
                add_recipient(&store(&project, &env)?, &key.join(" "), name.as_deref())?
            }
            RecipientsCommand::Remove { env, key } => remove_recipient(&store(&project, &env)?, &key.join(" "))?,
        },
        SecretsCommand::Rekey { env, force } => rekey(&project, env.as_deref(), force)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The store of `env`, which must be one of the project's environments: a typo
/// must not start a new set of secrets.
fn store(project: &Project, env: &str) -> Result<SecretStore, Problem> {
    check_name(env, "environment")?;
    let envs = project.environments();
    if !envs.iter().any(|e| e == env) {
        return Err(Problem::new(
            Kind::Usage,
            format!("no environment `{env}`: environments/{env}.rhai does not exist"),
        )
        .help(format!(
            "{}environments: {}",
            did_you_mean(env, envs.iter().map(String::as_str)),
            list_or_none(&envs)
        )));
    }
    SecretStore::open(&project.root, env)
}

fn note(text: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Writes data to stdout; a closed pipe is not an error.
fn out(bytes: &[u8]) -> Result<(), Problem> {
    let mut o = std::io::stdout().lock();
    match o.write_all(bytes).and_then(|()| o.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Problem::new(Kind::Usage, format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

fn report(store: &SecretStore, w: &Written) {
    if !w.wrote && w.added.is_empty() && w.changed.is_empty() && w.removed.is_empty() {
        note(&format!(
            "no changes to the secrets of `{}`; nothing written",
            store.env()
        ));
        return;
    }
    let mut parts = Vec::new();
    for (what, names) in [("added", &w.added), ("changed", &w.changed), ("removed", &w.removed)] {
        if !names.is_empty() {
            let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            parts.push(format!("{what} {}", quoted.join(", ")));
        }
    }
    if parts.is_empty() {
        parts.push("rewrote the file (order only)".into());
    }
    note(&format!("secrets of `{}`: {}", store.env(), parts.join("; ")));
}

fn show(store: &SecretStore, key: Option<&str>, file: Option<&str>, format: Format) -> Result<(), Problem> {
    store.require_exists()?;
    let names = store.names()?;
    if let Some(name) = key.or(file)
        && !names.contains(name)
    {
        return Err(
            Problem::new(Kind::Secrets, format!("`{}` has no secret `{name}`", store.env()))
                .help(names.unknown_help(name)),
        );
    }
    let env = store.env();
    let secret = |name, kind| json::Secret {
        environment: env,
        name,
        kind,
        value: None,
        content_base64: None,
    };
    match (key, file) {
        (Some(key), _) => {
            if names.files.iter().any(|f| f == key) {
                return Err(Problem::new(Kind::Secrets, format!("`{key}` is a secret file"))
                    .help(format!("show it with `ordo secrets show {env} --file {key}`")));
            }
            let value = store.decrypt_value(&Identities::discover()?, key)?;
            if format == Format::Json {
                let text = json::text(key, &value)?;
                return json::event(
                    "secret",
                    &json::Secret {
                        value: Some(text),
                        ..secret(key, "value")
                    },
                    text.len(),
                );
            }
            let mut bytes = value.expose().to_vec();
            bytes.push(b'\n');
            let bytes = SecretBytes::new(bytes);
            out(bytes.expose())
        }
        (None, Some(file)) => {
            if !names.files.iter().any(|f| f == file) {
                return Err(
                    Problem::new(Kind::Secrets, format!("`{file}` is a secret value, not a file"))
                        .help(format!("show it with `ordo secrets show {env} {file}`")),
                );
            }
            let content = store.decrypt_file(&Identities::discover()?, file)?;
            if format == Format::Json {
                let encoded = json::base64(&content);
                return json::event(
                    "secret",
                    &json::Secret {
                        content_base64: Some(&encoded),
                        ..secret(file, "file")
                    },
                    encoded.len(),
                );
            }
            out(content.expose())
        }
        (None, None) => {
            let values = store.decrypt_values(&Identities::discover()?)?;
            if format == Format::Json {
                for (name, value) in &values {
                    let text = json::text(name, value)?;
                    json::event(
                        "secret",
                        &json::Secret {
                            value: Some(text),
                            ..secret(name, "value")
                        },
                        text.len(),
                    )?;
                }
                for f in &names.files {
                    json::event("secret", &secret(f, "file"), 0)?;
                }
                return Ok(());
            }
            out(render_plain(env, &values, false).as_bytes())?;
            if !names.files.is_empty() {
                note(&format!(
                    "secret files: {} (`ordo secrets show {env} --file NAME`)",
                    names.files.join(", "),
                ));
            }
            Ok(())
        }
    }
}

fn read_stdin(what: &str) -> Result<Vec<u8>, Problem> {
    if std::io::stdin().is_terminal() {
        note(&format!("type {what}, then Ctrl-D on a line of its own"));
    }
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| Problem::new(Kind::Usage, format!("cannot read stdin: {e}")))?;
    if bytes.is_empty() {
        return Err(Problem::new(
            Kind::Usage,
            format!("stdin was empty: no {what} given; nothing was changed"),
        )
        .help("pass the value on stdin: `ordo secrets set ENV NAME < file`, or type it and end with Ctrl-D"));
    }
    Ok(bytes)
}

fn set_value(store: &SecretStore, key: &str) -> Result<(), Problem> {
    check_name(key, "secret")?;
    let mut bytes = read_stdin(&format!("the value of `{key}`"))?;
    // `echo token | ordo secrets set …` must not store the newline.
    if bytes.ends_with(b"\n") {
        bytes.pop();
        if bytes.ends_with(b"\r") {
            bytes.pop();
        }
    }
    let value = SecretBytes::new(bytes);
    if std::str::from_utf8(value.expose()).is_err() {
        return Err(
            Problem::new(Kind::Usage, format!("the value of `{key}` is not UTF-8 text")).help(format!(
                "store binary content as a secret file: `ordo secrets set {} --file {key}`",
                store.env()
            )),
        );
    }
    let _lock = store.lock("editing")?;
    warn_if_stale(store)?;
    let w = store.set_value(key, &value, Identities::discover().ok().as_ref())?;
    report(store, &w);
    Ok(())
}

fn set_file(store: &SecretStore, name: &str) -> Result<(), Problem> {
    check_name(name, "secret file")?;
    let content = SecretBytes::new(read_stdin(&format!("the content of `{name}`"))?);
    let _lock = store.lock("editing")?;
    warn_if_stale(store)?;
    let w = store.set_file(name, &content, Identities::discover().ok().as_ref())?;
    report(store, &w);
    Ok(())
}

fn warn_if_stale(store: &SecretStore) -> Result<(), Problem> {
    if store.exists() && !store.is_current(&store.non_empty_recipients()?)? {
        note(&format!(
            "note: the recipients of `{env}` changed since its secrets were encrypted; run `ordo secrets rekey {env}`",
            env = store.env()
        ));
    }
    Ok(())
}

fn list(store: &SecretStore, format: Format) -> Result<(), Problem> {
    let names = store.names()?;
    if names.is_empty() {
        note(&format!("`{}` has no secrets", store.env()));
        return Ok(());
    }
    let kinds = names
        .values
        .iter()
        .map(|v| (v, "value"))
        .chain(names.files.iter().map(|f| (f, "file")));
    match format {
        Format::Json => {
            for (name, kind) in kinds {
                json::event(
                    "secret",
                    &json::Secret {
                        environment: store.env(),
                        name,
                        kind,
                        value: None,
                        content_base64: None,
                    },
                    0,
                )?;
            }
        }
        Format::Human => {
            let text: String = kinds.map(|(name, kind)| format!("{kind:<5}  {name}\n")).collect();
            out(text.as_bytes())?;
        }
    }
    if let Ok(r) = store.recipients()
        && !store.is_current(&r)?
    {
        note(&format!(
            "note: encrypted to an older list of recipients; run `ordo secrets rekey {}`",
            store.env()
        ));
    }
    Ok(())
}
