//! `host.retire()`: the host leaves the environment. It keeps its connection details
//! (ordo has no other way to reach it) and runs nothing: the next deploy stops and
//! removes what ordo created there, then its declaration can go (docs/hosts.md,
//! decision 56). What a retired host may not have — placements, roles, data, rolling
//! hooks — is checked with the rest of the model (`script::eval::retired`).

use std::sync::Arc;

use rhai::{Engine, NativeCallContext};

use super::host::HostHandle;
use super::{call_span, document};
use crate::script::session::{Retired, Session};

pub(super) fn register(engine: &mut Engine, session: &Arc<Session>) {
    let s = session.clone();
    document(
        engine,
        "retire",
        &["host: Host", "()"],
        "Retires the host: `env.host(\"lb\", #{ address: \"10.0.0.5\" }).retire()`. It keeps how to reach it and runs \
         nothing; the next deploy shows and then stops and removes everything ordo created there for the service \
         (programs, cron blocks, virtualenvs, files, its records in `~/.ordo/<service>`). \
         Once that deploy is through, `ordo check` says the declaration can go. A retired host cannot have placements, \
         roles, data or rolling hooks.",
        move |ctx: NativeCallContext, h: &mut HostHandle| {
            let mut d = s.decl();
            let host = &mut d.hosts[h.0];
            // A second call changes nothing; the first one is where it happened.
            if host.retired.is_none() {
                host.retired = Some(Retired { span: call_span(&ctx) });
            }
        },
    );
}
