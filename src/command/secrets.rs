//! `ordo secrets …`: keep an environment's secrets encrypted in the repository and
//! change them safely. Plaintext goes only to `show`'s stdout and to the private
//! draft file of an edit; values come in on stdin, never on the command line.
//! Everything here works on the project's files alone: no host is contacted.

use std::io::{IsTerminal, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::cli::{RecipientsCommand, SecretsArgs, SecretsCommand};
use crate::problem::suggest::{did_you_mean, list_or_none};
use crate::problem::{Kind, Problem, Problems};
use crate::project::Project;
use crate::secrets::{
    Draft, Identities, RecipientsFile, SecretBytes, SecretStore, Written, check_name, generate_identity, parse_plain,
    render_plain,
};

pub(crate) fn secrets(start: &Path, args: SecretsArgs) -> Result<ExitCode, Problems> {
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
        SecretsCommand::Show { env, key, file } => show(&store(&project, &env)?, key.as_deref(), file.as_deref())?,
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
        SecretsCommand::List { env } => list(&store(&project, &env)?)?,
        SecretsCommand::Recipients(r) => match r.command {
            RecipientsCommand::List { env } => list_recipients(&store(&project, &env)?)?,
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

fn interactive() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

fn ask_again(problem: &Problem) -> bool {
    note(&format!("{:?}", miette::Report::new(problem.clone())));
    let _ = write!(std::io::stderr().lock(), "Open the editor again to fix it? [Y/n] ");
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    !answer.trim().to_lowercase().starts_with('n')
}

/// Re-encrypts everything first when the recipients changed since the store was
/// last encrypted (a hand edit, a merge): an edit must not leave some values
/// readable only by the old set of keys.
fn bring_current(store: &SecretStore, recipients: &RecipientsFile, ids: Option<&Identities>) -> Result<(), Problem> {
    if store.exists() && !store.is_current(recipients)? {
        note(&format!(
            "the recipients of `{}` changed since its secrets were encrypted; re-encrypting everything to them first",
            store.env()
        ));
        store.reencrypt(ids, recipients)?;
    }
    Ok(())
}

/// Runs the editor on `draft` until `save` succeeds, the user gives up, or (without
/// a terminal) the first failure: then the draft is kept, and the error says where.
fn edit_loop(
    store: &SecretStore,
    draft: Draft,
    adopted: bool,
    original: &[u8],
    save: impl Fn(&[u8]) -> Result<Written, Problem>,
) -> Result<(), Problem> {
    let mut retried = false;
    loop {
        if let Err(p) = draft.edit() {
            // Aborting the first edit discards it; text already worked on is kept.
            return Err(if adopted || retried { keep(store, draft, p) } else { p });
        }
        let text = draft.read()?;
        if !adopted && *text == *original {
            note(&format!(
                "no changes to the secrets of `{}`; nothing written",
                store.env()
            ));
            return Ok(());
        }
        match save(&text) {
            Ok(w) => {
                report(store, &w);
                draft.discard();
                return Ok(());
            }
            Err(p) if interactive() && ask_again(&p) => retried = true,
            Err(p) => return Err(keep(store, draft, p)),
        }
    }
}

/// Keeps the draft and adds to `p` where it is and how to go on.
fn keep(store: &SecretStore, draft: Draft, p: Problem) -> Problem {
    let path = draft.keep();
    // On a line of its own: the error is wrapped when rendered, which would break the
    // path where it has a hyphen.
    note(&format!(
        "the edit was not saved; your edited text is kept in\n  {}",
        path.display()
    ));
    let kept = format!(
        "your edited text is kept in the file named above (readable only by you): fix the problem, then run `ordo secrets edit {} --from <that file>`; delete it if you give up",
        store.env()
    );
    let help = match &p.help {
        Some(h) => format!("{h}\n{kept}"),
        None => kept,
    };
    p.help(help)
}

fn edit_values(store: &SecretStore, from: Option<&Path>) -> Result<(), Problem> {
    let _lock = store.lock("editing")?;
    store.non_empty_recipients()?;
    let ids = if store.exists() {
        Some(Identities::discover()?)
    } else {
        None
    };
    bring_current(store, &store.recipients()?, ids.as_ref())?;
    let old = match &ids {
        Some(ids) => store.decrypt_values(ids)?,
        None => Vec::new(),
    };
    let original = render_plain(store.env(), &old, true);
    let draft = match from {
        Some(p) => Draft::adopt(p)?,
        None => Draft::create(&format!("{}-secrets.conf", store.env()), original.as_bytes())?,
    };
    let origin = draft.path().display().to_string();
    edit_loop(store, draft, from.is_some(), original.as_bytes(), |text| {
        let text =
            std::str::from_utf8(text).map_err(|_| Problem::new(Kind::Secrets, format!("{origin}: not UTF-8 text")))?;
        let new = parse_plain(text, &origin)?;
        // Read again: the recipients may have changed while the editor was open.
        let recipients = store.non_empty_recipients()?;
        bring_current(store, &recipients, ids.as_ref())?;
        store.save_values(&old, &new, &recipients)
    })
}

fn edit_file(store: &SecretStore, name: &str, from: Option<&Path>) -> Result<(), Problem> {
    check_name(name, "secret file")?;
    let _lock = store.lock("editing")?;
    store.non_empty_recipients()?;
    if store.names()?.values.iter().any(|n| n == name) {
        return Err(Problem::new(
            Kind::Secrets,
            format!("`{name}` is a secret value of `{}`, not a file", store.env()),
        )
        .help(format!("edit the values with `ordo secrets edit {}`", store.env())));
    }
    let ids = if store.exists() {
        Some(Identities::discover()?)
    } else {
        None
    };
    bring_current(store, &store.recipients()?, ids.as_ref())?;
    let old = match &ids {
        Some(ids) if store.file_path(name).exists() => store.decrypt_file(ids, name)?,
        _ => SecretBytes::new(Vec::new()),
    };
    let draft = match from {
        Some(p) => Draft::adopt(p)?,
        None => Draft::create(name, old.expose())?,
    };
    edit_loop(store, draft, from.is_some(), old.expose(), |text| {
        let recipients = store.non_empty_recipients()?;
        bring_current(store, &recipients, ids.as_ref())?;
        store.set_file(name, &SecretBytes::new(text.to_vec()), ids.as_ref())
    })
}

fn show(store: &SecretStore, key: Option<&str>, file: Option<&str>) -> Result<(), Problem> {
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
    match (key, file) {
        (Some(key), _) => {
            if names.files.iter().any(|f| f == key) {
                return Err(Problem::new(Kind::Secrets, format!("`{key}` is a secret file"))
                    .help(format!("show it with `ordo secrets show {} --file {key}`", store.env())));
            }
            let value = store.decrypt_value(&Identities::discover()?, key)?;
            let mut bytes = value.expose().to_vec();
            bytes.push(b'\n');
            let bytes = SecretBytes::new(bytes);
            out(bytes.expose())
        }
        (None, Some(file)) => {
            if !names.files.iter().any(|f| f == file) {
                return Err(
                    Problem::new(Kind::Secrets, format!("`{file}` is a secret value, not a file"))
                        .help(format!("show it with `ordo secrets show {} {file}`", store.env())),
                );
            }
            out(store.decrypt_file(&Identities::discover()?, file)?.expose())
        }
        (None, None) => {
            let values = store.decrypt_values(&Identities::discover()?)?;
            out(render_plain(store.env(), &values, false).as_bytes())?;
            if !names.files.is_empty() {
                note(&format!(
                    "secret files: {} (`ordo secrets show {} --file NAME`)",
                    names.files.join(", "),
                    store.env()
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

fn list(store: &SecretStore) -> Result<(), Problem> {
    let names = store.names()?;
    if names.is_empty() {
        note(&format!("`{}` has no secrets", store.env()));
        return Ok(());
    }
    let mut text = String::new();
    for v in &names.values {
        text.push_str(&format!("value  {v}\n"));
    }
    for f in &names.files {
        text.push_str(&format!("file   {f}\n"));
    }
    out(text.as_bytes())?;
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

fn list_recipients(store: &SecretStore) -> Result<(), Problem> {
    let r = store.recipients()?;
    let width = r
        .keys
        .iter()
        .map(|k| k.name.as_deref().unwrap_or("-").len())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    for k in &r.keys {
        text.push_str(&format!("{:width$}  {}\n", k.name.as_deref().unwrap_or("-"), k.key));
    }
    out(text.as_bytes())?;
    if r.is_empty() {
        note(&format!("{} lists no key", store.rel(&store.recipients_path())));
    } else if store.exists() && !store.is_current(&r)? {
        note(&format!(
            "note: the secrets are encrypted to an older version of this list; run `ordo secrets rekey {}`",
            store.env()
        ));
    }
    Ok(())
}

/// The key to add: the text itself, or the content of a `.pub` file it names.
fn key_text(arg: &str) -> Result<String, Problem> {
    let path = Path::new(arg);
    if arg.starts_with("age1") || arg.starts_with("ssh-") {
        return Ok(arg.to_string());
    }
    if !path.is_file() {
        if arg.contains('/') || arg.ends_with(".pub") {
            return Err(Problem::new(Kind::Usage, format!("{arg}: no such file"))
                .help("pass a public key (`age1…`, `ssh-ed25519 AAAA…`) or the path of an existing `.pub` file"));
        }
        return Ok(arg.to_string());
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| Problem::new(Kind::Usage, format!("cannot read {arg}: {e}")))?;
    let keys: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    match keys.as_slice() {
        [one] => Ok((*one).to_string()),
        _ => Err(Problem::new(
            Kind::Usage,
            format!("{arg} holds {} keys; add one key at a time", keys.len()),
        )),
    }
}

fn add_recipient(store: &SecretStore, key: &str, name: Option<&str>) -> Result<(), Problem> {
    let key = key_text(key)?;
    let _lock = store.lock("editing")?;
    let origin = store.rel(&store.recipients_path());
    let mut recipients = if store.recipients_path().exists() {
        store.recipients()?
    } else {
        RecipientsFile::new(store.env(), &origin)
    };
    if !recipients.add(&key, name)? {
        note(&format!("that key is already in {origin}; nothing changed"));
        return Ok(());
    }
    let added = recipients.keys.last().map(|k| k.describe()).unwrap_or_default();
    let n = store.reencrypt(None, &recipients)?;
    if store.exists() {
        note(&format!(
            "added {added} to {origin}; re-encrypted {n} secrets of `{}` to {} keys",
            store.env(),
            recipients.len()
        ));
    } else {
        note(&format!(
            "added {added} to {origin}; no secrets yet: `ordo secrets set {} NAME` (the value is read from stdin)",
            store.env()
        ));
    }
    Ok(())
}

fn remove_recipient(store: &SecretStore, what: &str) -> Result<(), Problem> {
    let _lock = store.lock("editing")?;
    let mut recipients = store.recipients()?;
    let removed = recipients.remove(what)?;
    if recipients.is_empty() {
        return Err(Problem::new(
            Kind::Secrets,
            format!("{} is the last recipient of `{}`", removed.description, store.env()),
        )
        .help("add the key that replaces it first (`ordo secrets recipients add`), then remove this one"));
    }
    let ids = if store.exists() {
        Some(Identities::discover()?)
    } else {
        Identities::discover().ok()
    };
    let n = store.reencrypt(ids.as_ref(), &recipients)?;
    let origin = store.rel(&store.recipients_path());
    note(&format!(
        "removed {} from {origin}; re-encrypted {n} secrets of `{}`",
        removed.description,
        store.env()
    ));
    if n > 0 {
        note(&format!(
            "{} could read these secrets until now, and git history keeps the old files: change the values that matter (`ordo secrets edit {}`) where they are used",
            removed.description,
            store.env()
        ));
    }
    if let Some(ids) = &ids
        && !ids.public_keys().any(|k| recipients.contains_key(k))
    {
        note("warning: none of your keys is a recipient any more; you can no longer decrypt these secrets");
    }
    Ok(())
}

fn rekey(project: &Project, env: Option<&str>, force: bool) -> Result<(), Problem> {
    let envs: Vec<String> = match env {
        Some(e) => vec![store(project, e)?.env().to_string()],
        None => {
            let mut envs: Vec<String> = std::fs::read_dir(project.root.join("secrets"))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .strip_suffix(".recipients")
                        .map(str::to_string)
                })
                .collect();
            envs.sort();
            envs
        }
    };
    if envs.is_empty() {
        note("no secrets/<ENV>.recipients files: nothing to re-encrypt");
        return Ok(());
    }
    let mut ids: Option<Identities> = None;
    for env in envs {
        let store = SecretStore::open(&project.root, &env)?;
        let _lock = store.lock("re-encrypting")?;
        let recipients = store.non_empty_recipients()?;
        if !force && store.is_current(&recipients)? {
            note(&format!(
                "`{env}`: already encrypted to the {} keys of its recipients file",
                recipients.len()
            ));
            continue;
        }
        if ids.is_none() && store.exists() {
            ids = Some(Identities::discover()?);
        }
        let n = store.reencrypt(ids.as_ref(), &recipients)?;
        note(&format!(
            "`{env}`: re-encrypted {n} secrets to {} keys",
            recipients.len()
        ));
    }
    Ok(())
}

fn keygen(output: Option<&Path>) -> Result<(), Problem> {
    let (secret, public) = generate_identity();
    let text = zeroize::Zeroizing::new(format!(
        "# created by ordo secrets keygen, {}\n# public key: {public}\n{}\n",
        crate::sys::now_rfc3339(),
        *secret
    ));
    let Some(path) = output else {
        out(text.as_bytes())?;
        note(&format!("public key: {public}"));
        return Ok(());
    };
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let failed = |e: std::io::Error| Problem::new(Kind::Usage, format!("cannot write {}: {e}", path.display()));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(failed)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Problem::new(
                    Kind::Usage,
                    format!("{} exists already; ordo does not overwrite keys", path.display()),
                )
                .help("choose another file, or move the old key away if you really mean to replace it")
            } else {
                failed(e)
            }
        })?;
    f.write_all(text.as_bytes()).map_err(failed)?;
    out(format!("{public}\n").as_bytes())?;
    note(&format!(
        "wrote the private key to {} (mode 0600); share the public key above: `ordo secrets recipients add ENV {public}`",
        path.display()
    ));
    Ok(())
}
