//! `secret("name")` and `secret_file("name")`: the environment's secrets as tokens
//! (see `secrets::vault`). The name is checked against the secrets file's list of
//! names, which needs no key, so a typo is an error of `ordo check` already.

use std::sync::Arc;

use rhai::{Engine, NativeCallContext};

use super::{RhaiResult, call_span, document, fail, script_error};
use crate::script::session::Session;

fn secret(s: &Session, ctx: &NativeCallContext, name: &str, file: bool) -> RhaiResult<String> {
    let Some(vault) = &s.vault else {
        return Err(script_error(
            ctx,
            "secrets are not available here",
            "secret(..) reads the secrets of the environment being evaluated; call it inside a component or an environment script",
        ));
    };
    vault
        .check(name, file)
        .map_err(|p| fail(p.at(call_span(ctx).as_ref(), "used here")))?;
    Ok(crate::secrets::token(name, file))
}

pub(super) fn register(engine: &mut Engine, session: &Arc<Session>) {
    let s = session.clone();
    document(
        engine,
        "secret",
        &["name: string", "string"],
        "The secret value `name` of this environment (`secrets/<env>.secrets`). The script never sees the \
         plaintext: the value stands for it wherever text goes — interpolation, `+`, templates, provide/require — \
         and the step that finally uses it (a file's content, a command) receives the plaintext on the host only, \
         is written privately (mode 0600) and is never shown. A missing name is an error naming the secrets file.",
        move |ctx: NativeCallContext, name: &str| secret(&s, &ctx, name, false),
    );
    let s = session.clone();
    document(
        engine,
        "secret_file",
        &["name: string", "string"],
        "The secret file `name` of this environment (`secrets/<env>/<name>.age`), for certificates and keys: \
         use it as a file's content, `file(\"tls/key.pem\", #{ content: secret_file(\"tls.key\") })`.",
        move |ctx: NativeCallContext, name: &str| secret(&s, &ctx, name, true),
    );
}
