//! `releases(..)`: see `primitive/release_set/`. Its `files` and `virtualenv` are
//! what `file(..)`, `template(..)` and `virtualenv(..)` return, not added with
//! `c.add`: resolved here, relative to the release (their templates rendered,
//! their secrets revealed, their wheelhouse read, as `c.add` would).

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, Map, NativeCallContext};

use super::{AddCtx, Resolved, Spec, StepSpec, spec};
use crate::primitive::release_set::{DOC, Part, ReleaseSet, ReleaseVenv, plain};
use crate::script::api::document;
use crate::script::api::options::Options;
use crate::script::api::{RhaiResult, script_error};

/// How many releases stay when the script does not say.
const KEEP: usize = 3;

struct ReleasesSpec {
    dir: String,
    version: String,
    keep: usize,
    files: Vec<StepSpec>,
    venv: Option<StepSpec>,
}

impl Spec for ReleasesSpec {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        let dir = ctx.path("releases", &self.dir)?;
        if !dir.is_below(ctx.dir) {
            return Err(script_error(
                ctx.call,
                format!(
                    "releases(\"{}\") must be a directory below the component's root",
                    self.dir
                ),
                "name a directory of its own, e.g. releases(\"app\", …): it holds app/releases and app/current",
            ));
        }
        // The parts resolve as if added in the release's directory.
        let release = dir.join(&format!("releases/{}", self.version));
        let inner = AddCtx { dir: &release, ..*ctx };
        let mut files = Vec::new();
        let mut venv = None;
        for (i, part) in self.files.iter().chain(&self.venv).enumerate() {
            let is_venv = i >= self.files.len();
            let resolved = part.spec.release_part(&inner).unwrap_or_else(|| {
                Err(script_error(
                    ctx.call,
                    if is_venv {
                        "`virtualenv` of releases() takes virtualenv(..)".to_string()
                    } else {
                        format!("item {} of `files` of releases() is not a file or template", i + 1)
                    },
                    "write files: [file(\"app.ini\", \"…\"), template(\"app.conf\", \"templates/app.conf\")], \
                     virtualenv: virtualenv(\"venv\", #{ requirements: [\"app==1.4\"] }) — without c.add",
                ))
            })?;
            match (resolved, is_venv) {
                (Part::File(f), false) => {
                    check_inside(ctx, &f.name, "file")?;
                    if f.owner.is_some() || f.sudo {
                        return Err(script_error(
                            ctx.call,
                            format!("the release's file `{}` has `owner` or `sudo`", f.name),
                            "a release belongs to the login user: leave out owner, group and sudo",
                        ));
                    }
                    files.push(f);
                }
                (Part::Virtualenv(mut env), true) => {
                    check_inside(ctx, &env.name, "virtualenv")?;
                    // One wheelhouse for the set: only changed wheels travel, whatever
                    // the release.
                    if let Some((at, _)) = &mut env.wheelhouse {
                        *at = dir.join("releases/.wheels");
                    }
                    venv = Some(ReleaseVenv {
                        rel: env.name.trim_end_matches('/').to_string(),
                        env,
                    });
                }
                _ => {
                    return Err(script_error(
                        ctx.call,
                        "a virtualenv goes in `virtualenv` of releases(), files in `files`",
                        "write files: [file(..), template(..)], virtualenv: virtualenv(\"venv\", #{ … })",
                    ));
                }
            }
        }
        let mut names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        names.sort_unstable();
        if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
            return Err(script_error(
                ctx.call,
                format!("the release's file `{}` is given twice", w[0]),
                "give each file of a release once",
            ));
        }
        if let Some(v) = &venv
            && let Some(f) = files
                .iter()
                .find(|f| f.name == v.rel || f.name.starts_with(&format!("{}/", v.rel)))
        {
            return Err(script_error(
                ctx.call,
                format!("the release's file `{}` is inside its virtualenv `{}`", f.name, v.rel),
                "put configuration files next to the virtualenv, e.g. \"app.ini\"",
            ));
        }
        Ok(Resolved::of(Arc::new(ReleaseSet::new(
            self.dir.clone(),
            dir,
            self.version.clone(),
            self.keep,
            files,
            venv,
        ))))
    }
}

/// A path inside the release: relative, without `.` or `..` parts, and not
/// ordo's own (`.ordo-…`).
fn check_inside(ctx: &AddCtx<'_>, rel: &str, what: &str) -> RhaiResult<()> {
    let bad = rel.is_empty()
        || rel.starts_with(['/', '~'])
        || rel
            .trim_end_matches('/')
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        || rel.starts_with(".ordo-");
    if bad {
        return Err(script_error(
            ctx.call,
            format!(
                "the release's {what} `{}` is not a path inside the release",
                crate::text::visible(rel, false)
            ),
            "give a path relative to the release, e.g. \"app.ini\", \"etc/app.ini\" or \"venv\"",
        ));
    }
    Ok(())
}

fn build(ctx: &NativeCallContext, dir: &str, opts: Map) -> RhaiResult<StepSpec> {
    let names = DOC.option_names();
    let mut o = Options::new(ctx, "releases()", opts, &names)?;
    let Some(version) = o.string("version")? else {
        return Err(script_error(
            ctx,
            "releases() needs a `version`",
            "write version: \"1.4\": the release's name on the host, shown in every plan",
        ));
    };
    if !plain(&version) {
        return Err(script_error(
            ctx,
            format!(
                "`version: \"{}\"` cannot name a release",
                crate::text::visible(&version, false)
            ),
            "use letters, digits, `.`, `_`, `-` and `+`, not starting with `.` or `-`, e.g. version: \"1.4.2\"",
        ));
    }
    let keep = match o.take("keep") {
        None => KEEP,
        Some(v) => match v.as_int().ok().and_then(|k| usize::try_from(k).ok()) {
            Some(k) if (2..=1000).contains(&k) => k,
            _ => {
                return Err(script_error(
                    ctx,
                    format!("`keep: {v}` is not a number of releases to keep"),
                    "keep at least 2 (the active release and the one before it, which a program may still run \
                     until it restarts), e.g. keep: 3",
                ));
            }
        },
    };
    let files = match o.take("files") {
        None => Vec::new(),
        Some(v) if v.is_array() => v
            .cast::<Array>()
            .into_iter()
            .map(|item| step_spec(ctx, item, "files"))
            .collect::<RhaiResult<_>>()?,
        Some(v) => return Err(o.wrong("files", "an array of file(..) and template(..)", &v)),
    };
    let venv = o
        .take("virtualenv")
        .map(|v| step_spec(ctx, v, "virtualenv"))
        .transpose()?;
    Ok(spec(
        ctx,
        ReleasesSpec {
            dir: dir.into(),
            version,
            keep,
            files,
            venv,
        },
    ))
}

fn step_spec(ctx: &NativeCallContext, v: Dynamic, option: &str) -> RhaiResult<StepSpec> {
    let name = v.type_name();
    v.try_cast::<StepSpec>().ok_or_else(|| {
        script_error(
            ctx,
            format!(
                "`{option}` of releases() takes what file(..), template(..) or virtualenv(..) return, not a {name}"
            ),
            "write them without c.add: files: [file(\"app.ini\", \"…\")], virtualenv: virtualenv(\"venv\", #{ … })",
        )
    })
}

pub(super) fn register(engine: &mut Engine) {
    document(
        engine,
        "releases",
        &["dir: string", "options: map", "StepSpec"],
        DOC.summary,
        |ctx: NativeCallContext, dir: &str, opts: Map| build(&ctx, dir, opts),
    );
}
