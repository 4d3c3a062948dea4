//! The built-in primitives: `file`, `directory`, `symlink`, `template`, `command`
//! and `step` (verify/update written in Rhai). Each returns a [`StepSpec`] that
//! `c.add(..)` turns into a model step on the component's host.

use std::sync::Arc;

use rhai::{Array, Blob, Dynamic, Engine, FnPtr, Map, NativeCallContext};

use super::options::Options;
use super::{RhaiResult, StepRef, call_span, script_error};
use crate::script::callback::Callback;
use crate::script::session::Session;
use crate::source::Span;

#[derive(Clone, Debug)]
pub(crate) struct StepSpec {
    pub(crate) kind: StepKind,
    pub(crate) span: Option<Span>,
}

#[derive(Clone, Debug)]
pub(crate) enum FileContent {
    Bytes(Arc<[u8]>),
    /// A project file, read when the step is added.
    Source(String),
}

#[derive(Clone, Debug)]
pub(crate) enum StepKind {
    File {
        path: String,
        content: FileContent,
        mode: Option<u32>,
    },
    Template {
        path: String,
        source: String,
        vars: Map,
        mode: Option<u32>,
    },
    Directory {
        path: String,
        mode: Option<u32>,
    },
    Symlink {
        path: String,
        target: String,
    },
    Command {
        name: String,
        run: String,
        unless: Option<String>,
        creates: Option<String>,
        cwd: Option<String>,
        always: bool,
        on_change: Vec<StepRef>,
    },
    Custom {
        name: String,
        verify: Callback,
        update: Callback,
        on_change: Vec<StepRef>,
    },
}

pub(super) fn register(engine: &mut Engine, _session: &Arc<Session>) {
    engine.register_type_with_name::<StepSpec>("StepSpec");

    engine.register_fn("file", |ctx: NativeCallContext, path: &str, content: &str| {
        spec(
            &ctx,
            StepKind::File {
                path: path.into(),
                content: FileContent::Bytes(content.as_bytes().into()),
                mode: None,
            },
        )
    });
    engine.register_fn(
        "file",
        |ctx: NativeCallContext, path: &str, opts: Map| -> RhaiResult<StepSpec> {
            let mut o = Options::new(&ctx, "file()", opts, &["content", "source", "mode"])?;
            let content = match (o.take("content"), o.string("source")?) {
                (Some(c), None) if c.is_string() => FileContent::Bytes(c.to_string().into_bytes().into()),
                (Some(c), None) if c.is_blob() => FileContent::Bytes(c.cast::<Blob>().into()),
                (Some(c), None) => return Err(o.wrong("content", "a string or a blob", &c)),
                (None, Some(source)) => FileContent::Source(source),
                _ => {
                    return Err(script_error(
                        &ctx,
                        format!("file(\"{path}\") needs exactly one of `content` and `source`"),
                        "write #{ content: \"…\" } for inline text, or #{ source: \"files/name\" } for a project file",
                    ));
                }
            };
            let mode = o.mode("mode")?;
            Ok(spec(
                &ctx,
                StepKind::File {
                    path: path.into(),
                    content,
                    mode,
                },
            ))
        },
    );

    engine.register_fn("directory", |ctx: NativeCallContext, path: &str| {
        spec(
            &ctx,
            StepKind::Directory {
                path: path.into(),
                mode: None,
            },
        )
    });
    engine.register_fn(
        "directory",
        |ctx: NativeCallContext, path: &str, opts: Map| -> RhaiResult<StepSpec> {
            let mut o = Options::new(&ctx, "directory()", opts, &["mode"])?;
            let mode = o.mode("mode")?;
            Ok(spec(
                &ctx,
                StepKind::Directory {
                    path: path.into(),
                    mode,
                },
            ))
        },
    );

    engine.register_fn("symlink", |ctx: NativeCallContext, path: &str, target: &str| {
        spec(
            &ctx,
            StepKind::Symlink {
                path: path.into(),
                target: target.into(),
            },
        )
    });

    engine.register_fn("template", |ctx: NativeCallContext, path: &str, source: &str| {
        spec(
            &ctx,
            StepKind::Template {
                path: path.into(),
                source: source.into(),
                vars: Map::new(),
                mode: None,
            },
        )
    });
    engine.register_fn(
        "template",
        |ctx: NativeCallContext, path: &str, source: &str, vars: Map| {
            spec(
                &ctx,
                StepKind::Template {
                    path: path.into(),
                    source: source.into(),
                    vars,
                    mode: None,
                },
            )
        },
    );
    engine.register_fn(
        "template",
        |ctx: NativeCallContext, path: &str, source: &str, vars: Map, opts: Map| -> RhaiResult<StepSpec> {
            let mut o = Options::new(&ctx, "template()", opts, &["mode"])?;
            let mode = o.mode("mode")?;
            Ok(spec(
                &ctx,
                StepKind::Template {
                    path: path.into(),
                    source: source.into(),
                    vars,
                    mode,
                },
            ))
        },
    );

    engine.register_fn(
        "command",
        |ctx: NativeCallContext, name: &str, opts: Map| -> RhaiResult<StepSpec> {
            let mut o = Options::new(
                &ctx,
                "command()",
                opts,
                &["run", "unless", "creates", "cwd", "on_change", "always"],
            )?;
            let Some(run) = o.string("run")? else {
                return Err(script_error(
                    &ctx,
                    format!("command(\"{name}\") has no `run`"),
                    "write command(\"name\", #{ run: \"the shell command\", creates: \"path\" })",
                ));
            };
            let unless = o.string("unless")?;
            let creates = o.string("creates")?;
            let cwd = o.string("cwd")?;
            let always = o.bool("always")?.unwrap_or(false);
            let on_change = refs(&ctx, o.take("on_change"))?;
            if unless.is_none() && creates.is_none() && on_change.is_empty() && !always {
                return Err(script_error(
                    &ctx,
                    format!("command(\"{name}\") would run on every deploy"),
                    "say when it is needed: `creates: \"path\"` (skip when the path exists), `unless: \"test …\"` \
                 (skip when that exits 0) or `on_change: [step, …]` (run after those steps changed); \
                 `always: true` if it really must run every time",
                ));
            }
            Ok(spec(
                &ctx,
                StepKind::Command {
                    name: name.into(),
                    run,
                    unless,
                    creates,
                    cwd,
                    always,
                    on_change,
                },
            ))
        },
    );

    engine.register_fn("step", |ctx: NativeCallContext, name: &str, opts: Map| -> RhaiResult<StepSpec> {
        let mut o = Options::new(&ctx, "step()", opts, &["verify", "update", "on_change"])?;
        let mut callback = |key: &str| -> RhaiResult<Callback> {
            match o.take(key) {
                Some(f) if f.is_fnptr() => Ok(Callback::new(&ctx, f.cast::<FnPtr>())),
                Some(f) => Err(o.wrong(key, "a function such as |host| { … }", &f)),
                None => Err(script_error(
                    &ctx,
                    format!("step(\"{name}\") needs `{key}`"),
                    "write step(\"name\", #{ verify: |host| host.run(\"test -e x\").ok, update: |host| { host.run(\"touch x\"); } })",
                )),
            }
        };
        let verify = callback("verify")?;
        let update = callback("update")?;
        let on_change = refs(&ctx, o.take("on_change"))?;
        Ok(spec(&ctx, StepKind::Custom { name: name.into(), verify, update, on_change }))
    });
}

fn spec(ctx: &NativeCallContext, kind: StepKind) -> StepSpec {
    StepSpec {
        kind,
        span: call_span(ctx),
    }
}

/// `on_change: [a, b]` or `on_change: a`: steps or sub-components added before.
fn refs(ctx: &NativeCallContext, v: Option<Dynamic>) -> RhaiResult<Vec<StepRef>> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let items = if v.is_array() { v.cast::<Array>() } else { vec![v] };
    items
        .into_iter()
        .map(|i| {
            i.clone().try_cast::<StepRef>().ok_or_else(|| {
                script_error(
                    ctx,
                    format!(
                        "`on_change` lists what c.add(..) or c.component(..) returned, not a {}",
                        i.type_name()
                    ),
                    "keep the value: `let conf = c.add(template(..));` then `on_change: [conf]`",
                )
            })
        })
        .collect()
}
