//! `virtualenv(..)`: see `primitive/virtualenv.rs`. Requirements files and the
//! wheelhouse are read from the project when the step is added.

use std::sync::Arc;

use rhai::{Array, Engine, Map, NativeCallContext};

use super::{AddCtx, Resolved, Spec, StepSpec, spec};
use crate::primitive::release_set::Part;
use crate::primitive::virtualenv::{DOC, Installer, Interpreter, Virtualenv, Wheel, requirements};
use crate::script::api::options::Options;
use crate::script::api::{RhaiResult, script_error};

enum Requirements {
    Lines(String),
    /// A file of the project.
    File(String),
}

struct VirtualenvSpec {
    path: String,
    python: String,
    requirements: Requirements,
    wheelhouse: Option<String>,
    installer: Installer,
    uv: Option<String>,
}

/// A command name (looked up on the host's PATH) or a path (with a `/`).
fn interpreter(ctx: &AddCtx<'_>, what: &str, text: &str) -> RhaiResult<Interpreter> {
    if text.contains('/') || text.starts_with('~') {
        return Ok(Interpreter::Path(ctx.path(what, text)?));
    }
    let ok = text.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c));
    if !ok {
        return Err(script_error(
            ctx.call,
            format!(
                "`{what}: \"{}\"` is neither a command name nor a path",
                crate::text::visible(text, false)
            ),
            "write a command on the host's PATH (\"python3.11\") or a path (\"/opt/python/bin/python3\")",
        ));
    }
    Ok(Interpreter::Command(text.to_string()))
}

impl Spec for VirtualenvSpec {
    fn resolve(&self, ctx: &AddCtx<'_>) -> RhaiResult<Resolved> {
        Ok(Resolved::of(Arc::new(self.env(ctx)?)))
    }

    fn release_part(&self, ctx: &AddCtx<'_>) -> Option<RhaiResult<Part>> {
        Some(self.env(ctx).map(Part::Virtualenv))
    }
}

impl VirtualenvSpec {
    fn env(&self, ctx: &AddCtx<'_>) -> RhaiResult<Virtualenv> {
        let path = ctx.path("virtualenv", &self.path)?;
        let python = interpreter(ctx, "python", &self.python)?;
        let uv = self.uv.as_deref().map(|u| interpreter(ctx, "uv", u)).transpose()?;
        let requirements: Arc<[u8]> = match &self.requirements {
            Requirements::Lines(text) => text.as_bytes().into(),
            Requirements::File(name) => ctx.session.read_project_file(name).map_err(|e| {
                script_error(
                    ctx.call,
                    format!("the requirements file `{name}` cannot be read: {e}"),
                    format!(
                        "requirements files are paths relative to the project root ({})",
                        ctx.session.project_root.display()
                    ),
                )
            })?,
        };
        let wheelhouse = match &self.wheelhouse {
            None => None,
            // Next to the environment, not in it (a rebuild keeps the wheels), and
            // one per environment (two sharing a project wheelhouse do not race).
            Some(dir) => Some((
                ctx.path("virtualenv", &format!("{}.wheels", self.path.trim_end_matches('/')))?,
                wheels(ctx, dir)?,
            )),
        };
        if let (Some((_, wheels)), Some(dir)) = (&wheelhouse, &self.wheelhouse) {
            wheels_for_requirements(ctx, &self.requirements, &requirements, dir, wheels)?;
        }
        Ok(Virtualenv {
            name: self.path.clone(),
            path,
            python,
            requirements,
            wheelhouse,
            installer: self.installer,
            uv,
        })
    }
}

/// Every requirement has a wheel in the wheelhouse (see
/// `primitive::virtualenv::requirements`): else the install fails on the host.
fn wheels_for_requirements(
    ctx: &AddCtx<'_>,
    source: &Requirements,
    text: &[u8],
    dir: &str,
    wheels: &[Wheel],
) -> RhaiResult<()> {
    let names: Vec<&str> = wheels.iter().map(|w| w.name.as_str()).collect();
    let missing = requirements::missing(&String::from_utf8_lossy(text), &names);
    if missing.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = missing
        .iter()
        .map(|m| {
            let at = match source {
                Requirements::File(file) => format!("{file}:{}", m.line),
                Requirements::Lines(_) => format!("item {} of `requirements`", m.line),
            };
            let others = match m.others.as_slice() {
                [] => String::new(),
                o => format!("; it has {}", o.join(", ")),
            };
            format!("`{}` ({at}{others})", m.requirement)
        })
        .collect();
    Err(script_error(
        ctx.call,
        format!(
            "the wheelhouse `{dir}` has no wheel for {}: {}",
            if missing.len() == 1 {
                "a requirement"
            } else {
                "these requirements"
            },
            listed.join(", ")
        ),
        format!(
            "add the wheels to `{dir}` (e.g. `pip wheel -w {dir} -r {}`), or change the requirements: \
             the host installs with --no-index, from these wheels only",
            match source {
                Requirements::File(file) => file.as_str(),
                Requirements::Lines(_) => "requirements.txt",
            }
        ),
    ))
}

/// The `*.whl` files of a project directory, by name.
fn wheels(ctx: &AddCtx<'_>, dir: &str) -> RhaiResult<Vec<Wheel>> {
    let full = ctx.session.project_root.join(dir);
    let cannot = |why: String| {
        script_error(
            ctx.call,
            format!("the wheelhouse `{dir}` cannot be read: {why}"),
            format!(
                "give a directory of the project ({}) holding .whl files, e.g. built with `pip wheel -w {dir} -r requirements.lock`",
                ctx.session.project_root.display()
            ),
        )
    };
    let entries = std::fs::read_dir(&full).map_err(|e| cannot(e.to_string()))?;
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| cannot(e.to_string()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".whl") {
            names.push(name);
        }
    }
    names.sort();
    if names.is_empty() {
        return Err(cannot("it holds no .whl files".into()));
    }
    names
        .into_iter()
        .map(|name| {
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || "._+!-".contains(c)) || name.starts_with('-') {
                return Err(cannot(format!(
                    "`{}` is not a wheel's file name",
                    crate::text::visible(&name, false)
                )));
            }
            let rel = format!("{}/{name}", dir.trim_end_matches('/'));
            let content = ctx
                .session
                .read_project_file(&rel)
                .map_err(|e| cannot(format!("{rel}: {e}")))?;
            Ok(Wheel::new(name, content))
        })
        .collect()
}

fn build(ctx: &NativeCallContext, path: &str, opts: Map) -> RhaiResult<StepSpec> {
    let names = DOC.option_names();
    let mut o = Options::new(ctx, "virtualenv()", opts, &names)?;
    let python = o.string("python")?.unwrap_or_else(|| "python3".into());
    let requirements = match o.take("requirements") {
        None => Requirements::Lines(String::new()),
        Some(v) if v.is_string() => Requirements::File(v.to_string()),
        Some(v) if v.is_array() => {
            let mut text = String::new();
            for line in v.cast::<Array>() {
                let Ok(line) = line.clone().into_immutable_string() else {
                    return Err(o.wrong("requirements", "an array of strings or a file name", &line));
                };
                if line.contains(['\n', '\r']) {
                    return Err(script_error(
                        ctx,
                        "a requirement holds a line break",
                        "give one requirement per array item",
                    ));
                }
                text.push_str(&line);
                text.push('\n');
            }
            Requirements::Lines(text)
        }
        Some(v) => return Err(o.wrong("requirements", "an array of strings or a file name", &v)),
    };
    let wheelhouse = o.string("wheelhouse")?;
    let installer = match o.take("installer") {
        None => Installer::Auto,
        Some(v) => match v
            .clone()
            .into_immutable_string()
            .ok()
            .and_then(|s| Installer::parse(&s))
        {
            Some(i) => i,
            None => return Err(o.wrong("installer", "\"auto\", \"uv\", \"pip\" or \"ensurepip\"", &v)),
        },
    };
    let uv = o.string("uv")?;
    Ok(spec(
        ctx,
        VirtualenvSpec {
            path: path.into(),
            python,
            requirements,
            wheelhouse,
            installer,
            uv,
        },
    ))
}

pub(super) fn register(engine: &mut Engine) {
    engine.register_fn("virtualenv", |ctx: NativeCallContext, path: &str| {
        build(&ctx, path, Map::new())
    });
    engine.register_fn("virtualenv", |ctx: NativeCallContext, path: &str, opts: Map| {
        build(&ctx, path, opts)
    });
}
