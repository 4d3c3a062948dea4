//! `file(..)` and `template(..)`: see `primitive/file.rs`.

use std::sync::Arc;

use rhai::{Blob, Engine, Map, NativeCallContext};

use super::{AddCtx, Resolved, Spec, StepSpec, spec};
use crate::primitive::file::{FILE_DOC, File, TEMPLATE_DOC};
use crate::primitive::owner::Ownership;
use crate::primitive::release_set::Part;
use crate::script::api::document;
use crate::script::api::options::Options;
use crate::script::api::{RhaiResult, fail, script_error};
use crate::script::session::Session;
use crate::script::template;

enum Content {
    Bytes(Arc<[u8]>),
    /// A project file, read when the step is added.
    Source(String),
}

/// The options `file` and `template` share.
#[derive(Clone, Default)]
struct Written {
    mode: Option<u32>,
    sensitive: bool,
    owner: Option<Ownership>,
    sudo: bool,
}

impl Written {
    fn take(o: &mut Options<'_>, ctx: &NativeCallContext) -> RhaiResult<Written> {
        let mode = o.mode("mode")?;
        let sensitive = o.bool("sensitive")?.unwrap_or(false);
        let owner = ownership(ctx, o)?;
        let sudo = o.bool("sudo")?.unwrap_or(false);
        Ok(Written {
            mode,
            sensitive,
            owner,
            sudo,
        })
    }

    fn apply(&self, f: &mut File) {
        f.mode = self.mode;
        f.sensitive = self.sensitive;
        f.owner = self.owner.clone();
        f.sudo = self.sudo;
    }
}

/// `owner` and `group` of an option map.
pub(super) fn ownership(ctx: &NativeCallContext, o: &mut Options<'_>) -> RhaiResult<Option<Ownership>> {
    let owner = o.string("owner")?;
    let group = o.string("group")?;
    Ownership::from_options(owner.as_deref(), group.as_deref()).map_err(|why| {
        script_error(
            ctx,
            format!("invalid owner: {why}"),
            "write `owner: \"app\"` and/or `group: \"www-data\"` (names or numbers), or `owner: \"app:www-data\"`",
        )
    })
}

struct FileSpec {
    path: String,
    content: Content,
    written: Written,
}

impl Spec for FileSpec {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        Ok(Resolved::of(Arc::new(self.file(ctx)?)))
    }

    fn release_part(&self, ctx: &AddCtx<'_>) -> Option<RhaiResult<Part>> {
        Some(self.file(ctx).map(Part::File))
    }
}

impl FileSpec {
    fn file(&self, ctx: &AddCtx<'_>) -> RhaiResult<File> {
        let path = ctx.path("file", &self.path)?;
        let content = match &self.content {
            Content::Bytes(b) => b.clone(),
            Content::Source(src) => read_source(ctx, src, "file")?,
        };
        let mut f = with_secrets(ctx, File::new(self.path.clone(), path, content), self.written.mode)?;
        self.written.apply(&mut f);
        Ok(f)
    }
}

/// A file whose content holds secrets gets their plaintext, its masked form for the
/// plan, and may not be readable by others.
fn with_secrets(ctx: &AddCtx<'_>, mut f: File, mode: Option<u32>) -> RhaiResult<File> {
    let revealed = ctx.reveal(&f.content)?;
    f.mode = mode;
    if !revealed.secret {
        return Ok(f);
    }
    if let Some(m) = mode
        && m & 0o077 != 0
    {
        return Err(script_error(
            ctx.call,
            format!(
                "`{}` holds secrets, so its mode must not let others read it (it is {m:04o})",
                f.name
            ),
            "leave `mode` out (files with secrets are 0600) or use 0o600 or 0o400",
        ));
    }
    let mut revealed_file = File::new(f.name.clone(), f.path.clone(), revealed.bytes.into());
    revealed_file.mode = mode;
    revealed_file.template = f.template.take();
    revealed_file.masked = Some(revealed.masked.into_bytes().into());
    Ok(revealed_file)
}

struct TemplateSpec {
    path: String,
    source: String,
    vars: Map,
    written: Written,
}

impl Spec for TemplateSpec {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        Ok(Resolved::of(Arc::new(self.file(ctx)?)))
    }

    fn release_part(&self, ctx: &AddCtx<'_>) -> Option<RhaiResult<Part>> {
        Some(self.file(ctx).map(Part::File))
    }
}

impl TemplateSpec {
    fn file(&self, ctx: &AddCtx<'_>) -> RhaiResult<File> {
        let path = ctx.path("template", &self.path)?;
        let text = read_source(ctx, &self.source, "template")?;
        let rendered = template::render(
            ctx.session,
            &self.source,
            &text,
            ctx.host_info,
            ctx.component,
            ctx.dir,
            ctx.attributes,
            self.vars.clone(),
            ctx.span,
        )
        .map_err(fail)?;
        let mut f = File::new(self.path.clone(), path, rendered.into_bytes().into());
        f.template = Some(self.source.clone());
        let mut f = with_secrets(ctx, f, self.written.mode)?;
        self.written.apply(&mut f);
        Ok(f)
    }
}

fn read_source(ctx: &AddCtx<'_>, name: &str, what: &str) -> RhaiResult<Arc<[u8]>> {
    let from = ctx.span.map(|s| s.file.to_string());
    ctx.session.read_source(name, from.as_deref()).map_err(|e| {
        script_error(
            ctx.call,
            format!("{what} source `{name}` cannot be read: {e}"),
            format!(
                "{what} sources are paths relative to the project root ({}), or to the library of the module that declares the step, e.g. \"templates/app.ini\"",
                ctx.session.project_root.display()
            ),
        )
    })
}

pub(super) fn register(engine: &mut Engine, _session: &Arc<Session>) {
    let bytes = |ctx: &NativeCallContext, path: &str, content: Arc<[u8]>| {
        spec(
            ctx,
            FileSpec {
                path: path.into(),
                content: Content::Bytes(content),
                written: Written::default(),
            },
        )
    };
    document(
        engine,
        "file",
        &["path: string", "content: string", "StepSpec"],
        FILE_DOC.summary,
        move |ctx: NativeCallContext, path: &str, content: &str| bytes(&ctx, path, content.as_bytes().into()),
    );
    document(
        engine,
        "file",
        &["path: string", "content: blob", "StepSpec"],
        FILE_DOC.summary,
        move |ctx: NativeCallContext, path: &str, content: Blob| bytes(&ctx, path, content.into()),
    );
    document(
        engine,
        "file",
        &["path: string", "options: map", "StepSpec"],
        FILE_DOC.summary,
        |ctx: NativeCallContext, path: &str, opts: Map| -> RhaiResult<StepSpec> {
            let names = FILE_DOC.option_names();
            let mut o = Options::new(&ctx, "file()", opts, &names)?;
            let content = match (o.take("content"), o.string("source")?) {
                (Some(c), None) if c.is_string() => Content::Bytes(c.to_string().into_bytes().into()),
                (Some(c), None) if c.is_blob() => Content::Bytes(c.cast::<Blob>().into()),
                (Some(c), None) => return Err(o.wrong("content", "a string or a blob", &c)),
                (None, Some(source)) => Content::Source(source),
                _ => {
                    return Err(script_error(
                        &ctx,
                        format!("file(\"{path}\") needs exactly one of `content` and `source`"),
                        "write #{ content: \"…\" } for inline text, or #{ source: \"files/name\" } for a project file",
                    ));
                }
            };
            let written = Written::take(&mut o, &ctx)?;
            Ok(spec(
                &ctx,
                FileSpec {
                    path: path.into(),
                    content,
                    written,
                },
            ))
        },
    );

    let template = |ctx: &NativeCallContext, path: &str, source: &str, vars: Map, written: Written| {
        spec(
            ctx,
            TemplateSpec {
                path: path.into(),
                source: source.into(),
                vars,
                written,
            },
        )
    };
    document(
        engine,
        "template",
        &["path: string", "source: string", "StepSpec"],
        TEMPLATE_DOC.summary,
        move |ctx: NativeCallContext, path: &str, source: &str| {
            template(&ctx, path, source, Map::new(), Written::default())
        },
    );
    document(
        engine,
        "template",
        &["path: string", "source: string", "vars: map", "StepSpec"],
        TEMPLATE_DOC.summary,
        move |ctx: NativeCallContext, path: &str, source: &str, vars: Map| {
            template(&ctx, path, source, vars, Written::default())
        },
    );
    document(
        engine,
        "template",
        &[
            "path: string",
            "source: string",
            "vars: map",
            "options: map",
            "StepSpec",
        ],
        TEMPLATE_DOC.summary,
        move |ctx: NativeCallContext, path: &str, source: &str, vars: Map, opts: Map| -> RhaiResult<StepSpec> {
            let names = TEMPLATE_DOC.option_names();
            let mut o = Options::new(&ctx, "template()", opts, &names)?;
            let written = Written::take(&mut o, &ctx)?;
            Ok(template(&ctx, path, source, vars, written))
        },
    );
}
