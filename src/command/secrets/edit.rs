//! `ordo secrets edit`: the decrypted text in a private draft, `$EDITOR` on it, and
//! only what changed encrypted again — or, when that fails, the draft kept and its
//! place told.

use std::io::{IsTerminal, Write};
use std::path::Path;

use super::{note, report};
use crate::problem::{Kind, Problem};
use crate::secrets::{
    Draft, Identities, RecipientsFile, SecretBytes, SecretStore, Written, check_name, parse_plain, render_plain,
};

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

pub(super) fn edit_values(store: &SecretStore, from: Option<&Path>) -> Result<(), Problem> {
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

pub(super) fn edit_file(store: &SecretStore, name: &str, from: Option<&Path>) -> Result<(), Problem> {
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
