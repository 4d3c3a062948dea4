//! Names that end up in paths and command lines on hosts. A service name becomes
//! `~/deployment/<service>` and `~/.ordo/<service>/`, so `service("../..")` would
//! put state and locks straight into `$HOME`; a host address starting with `-`
//! would be read by ssh as an option. Both are refused where they are written.

use rhai::NativeCallContext;

use super::{RhaiResult, script_error};

/// Service, component and environment names: letters, digits, `-`, `_` and `.`,
/// starting with a letter, a digit or `_` (so never `.`, `..` or an option).
pub(crate) fn check_name(ctx: &NativeCallContext, what: &str, name: &str) -> RhaiResult<()> {
    if is_plain_name(name) {
        return Ok(());
    }
    Err(script_error(
        ctx,
        format!("`{name}` is not a valid {what} name"),
        format!(
            "{what} names use letters, digits, `-`, `_` and `.`, and start with a letter, a digit or `_` \
             (they become directory names on hosts)"
        ),
    ))
}

pub(crate) fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// Host names, addresses and login names: anything ssh and a shell take as one
/// word that is not an option.
pub(crate) fn check_host_word(ctx: &NativeCallContext, what: &str, value: &str) -> RhaiResult<()> {
    let problem = if value.is_empty() {
        "is empty"
    } else if value.starts_with('-') {
        "starts with `-` (ssh would read it as an option)"
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        "contains spaces or control characters"
    } else {
        return Ok(());
    };
    Err(script_error(
        ctx,
        format!("{what} `{value}` {problem}"),
        format!("write the {what} as ssh would take it on its command line, e.g. `web1` or `web1.example.com`"),
    ))
}

#[cfg(test)]
mod tests {
    use super::is_plain_name;

    #[test]
    fn plain_names() {
        for ok in ["shop", "web-1", "app_2", "v1.2", "_x"] {
            assert!(is_plain_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "../..", "-x", ".hidden", "a/b", "a b", "a:b", "~"] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }
}
