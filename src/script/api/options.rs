//! Option maps (`#{ mode: 0o600, content: "…" }`) taken apart with type checks and a
//! clear error for unknown keys, which are usually typos.

use rhai::{Dynamic, Map, NativeCallContext};

use super::{RhaiResult, script_error};

pub(crate) struct Options<'a> {
    ctx: &'a NativeCallContext<'a>,
    what: &'a str,
    map: Map,
    known: &'a [&'a str],
}

impl<'a> Options<'a> {
    pub(crate) fn new(
        ctx: &'a NativeCallContext<'a>,
        what: &'a str,
        map: Map,
        known: &'a [&'a str],
    ) -> RhaiResult<Self> {
        for key in map.keys() {
            if !known.contains(&key.as_str()) {
                let hint = closest(key, known.iter().copied())
                    .map(|k| format!("did you mean `{k}`? "))
                    .unwrap_or_default();
                return Err(script_error(
                    ctx,
                    format!("unknown option `{key}` for {what}"),
                    format!("{hint}{what} takes: {}", known.join(", ")),
                ));
            }
        }
        Ok(Options { ctx, what, map, known })
    }

    pub(crate) fn take(&mut self, key: &str) -> Option<Dynamic> {
        debug_assert!(self.known.contains(&key));
        self.map.remove(key).filter(|v| !v.is_unit())
    }

    pub(crate) fn string(&mut self, key: &str) -> RhaiResult<Option<String>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) if v.is_string() => Ok(Some(v.to_string())),
            Some(v) => Err(self.wrong(key, "a string", &v)),
        }
    }

    pub(crate) fn bool(&mut self, key: &str) -> RhaiResult<Option<bool>> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => v.as_bool().map(Some).map_err(|_| self.wrong(key, "true or false", &v)),
        }
    }

    /// A file mode: an integer (`0o640`) or an octal string (`"0640"`).
    pub(crate) fn mode(&mut self, key: &str) -> RhaiResult<Option<u32>> {
        let Some(v) = self.take(key) else {
            return Ok(None);
        };
        let mode = if let Ok(i) = v.as_int() {
            u32::try_from(i).ok()
        } else if v.is_string() {
            u32::from_str_radix(v.to_string().trim_start_matches("0o"), 8).ok()
        } else {
            None
        };
        match mode {
            Some(m) if m <= 0o7777 => Ok(Some(m)),
            _ => Err(self.wrong(key, "a file mode such as 0o644 or \"0644\"", &v)),
        }
    }

    pub(crate) fn wrong(&self, key: &str, expected: &str, got: &Dynamic) -> Box<rhai::EvalAltResult> {
        script_error(
            self.ctx,
            format!(
                "option `{key}` of {} must be {expected}, not {}",
                self.what,
                got.type_name()
            ),
            format!("write e.g. `{key}: …` with {expected}"),
        )
    }
}

pub(crate) use crate::problem::suggest::closest;
