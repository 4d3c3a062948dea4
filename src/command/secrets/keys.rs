//! `ordo secrets recipients …`, `rekey` and `keygen`: who can decrypt an
//! environment's secrets, and the keys themselves.

use std::io::Write;
use std::path::Path;

use super::{note, out, store};
use crate::cli::Format;
use crate::problem::{Kind, Problem};
use crate::project::Project;
use crate::secrets::{Identities, RecipientsFile, SecretStore, generate_identity};

pub(super) fn list_recipients(store: &SecretStore, format: Format) -> Result<(), Problem> {
    let r = store.recipients()?;
    if format == Format::Json {
        for k in &r.keys {
            let recipient = super::json::Recipient {
                environment: store.env(),
                name: k.name.as_deref(),
                key: &k.key,
            };
            super::json::event("recipient", &recipient, 0)?;
        }
    } else {
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
    }
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

pub(super) fn add_recipient(store: &SecretStore, key: &str, name: Option<&str>) -> Result<(), Problem> {
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

pub(super) fn remove_recipient(store: &SecretStore, what: &str) -> Result<(), Problem> {
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

pub(super) fn rekey(project: &Project, env: Option<&str>, force: bool) -> Result<(), Problem> {
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

pub(super) fn keygen(output: Option<&Path>) -> Result<(), Problem> {
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
