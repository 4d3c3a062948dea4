//! `ordo completions SHELL` and `ordo man`: shell completions and the man page,
//! generated from the clap definitions, so they cannot drift from the command line.
//! The completion scripts also ask `ordo __complete` (see `names.rs`) for the names
//! only the project knows — environments, hosts, components — and use clap's
//! static completions wherever it has none.

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionsArgs};
use crate::problem::{Kind, Problem, Problems};

pub(crate) fn completions(args: &CompletionsArgs) -> Result<ExitCode, Problems> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "ordo", &mut out);
    let generated = without_plumbing(&String::from_utf8_lossy(&out));
    let script = with_names(args.shell, generated)?;
    write(script.as_bytes())
}

/// clap's script without `__complete` among the subcommands it offers (clap's
/// generators list hidden subcommands too): the candidate lines (zsh, fish) and
/// the word in bash's `opts` lists go.
fn without_plumbing(script: &str) -> String {
    let mut out = String::with_capacity(script.len());
    for line in script.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("'__complete:")
            || (trimmed.starts_with("complete -c ordo ") && line.contains("-a \"__complete\""))
        {
            continue;
        }
        if trimmed.starts_with("opts=\"") {
            out.push_str(&line.replace(" __complete ", " "));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// clap's script with the call-back for names in front of it.
fn with_names(shell: Shell, generated: String) -> Result<String, Problems> {
    Ok(match shell {
        // Registered after clap's `complete -F _ordo`, so it replaces it.
        Shell::Bash => generated + BASH,
        // clap's `_ordo` becomes `_ordo_clap`; ours is `_ordo`, which compsys calls
        // (as an autoloaded file in $fpath, or after `source`).
        Shell::Zsh => {
            let renamed = generated.replacen("\n_ordo() {\n", "\n_ordo_clap() {\n", 1);
            if renamed == generated {
                return Err(Problem::new(
                    Kind::Usage,
                    "cannot add names to clap's zsh completions: `_ordo() {` not found",
                )
                .help("this is a bug of ordo; `ordo completions bash` or fish still work")
                .into());
            }
            let (head, tail) = renamed
                .rsplit_once("\nif [ \"$funcstack[1]\" = \"_ordo\" ]; then")
                .map(|(h, t)| {
                    (
                        h.to_string(),
                        format!("\nif [ \"$funcstack[1]\" = \"_ordo\" ]; then{t}"),
                    )
                })
                .unwrap_or((renamed, String::new()));
            format!("{head}{ZSH}{tail}")
        }
        // The values of `--hosts` and `--set` come from clap's rules for those
        // options: they get the names as their arguments.
        Shell::Fish => {
            let mut script = String::with_capacity(generated.len() + FISH.len());
            for line in generated.lines() {
                script.push_str(line);
                if line.starts_with("complete -c ordo ") && (line.contains(" -l hosts ") || line.contains(" -l set ")) {
                    script.push_str(" -f -a '(__ordo_names)'");
                }
                script.push('\n');
            }
            script + FISH
        }
        _ => generated,
    })
}

const BASH: &str = r#"
# Names only the project knows (environments, hosts, components) come from
# `ordo __complete`; everything else from the completions above.
_ordo_names() {
    local -a names
    mapfile -t names < <(command "${COMP_WORDS[0]}" __complete --index "$COMP_CWORD" -- "${COMP_WORDS[@]}" 2>/dev/null)
    if [[ ${#names[@]} -gt 0 ]]; then
        [[ ${names[0]} == *[.,=] ]] && compopt -o nospace 2>/dev/null
        COMPREPLY=("${names[@]}")
        return 0
    fi
    _ordo "$@"
}
complete -F _ordo_names -o bashdefault -o default ordo
"#;

const ZSH: &str = r#"

# Names only the project knows (environments, hosts, components) come from
# `ordo __complete`; everything else from `_ordo_clap` above.
_ordo() {
    local -a names
    names=("${(@f)$(command "${words[1]}" __complete --index $((CURRENT - 1)) -- "${words[@]}" 2>/dev/null)}")
    names=(${names:#})
    if (( ${#names} )); then
        if [[ ${names[1]} == *[.,=] ]]; then
            compadd -Q -S '' -- "${names[@]}"
        else
            compadd -Q -- "${names[@]}"
        fi
        return 0
    fi
    _ordo_clap "$@"
}
"#;

const FISH: &str = r#"
# Names only the project knows (environments, hosts, components) come from
# `ordo __complete`.
function __ordo_names
    set -l current (commandline -ct)
    set -l words (commandline -opc) "$current"
    command $words[1] __complete --index (math (count $words) - 1) -- $words 2>/dev/null
end
function __ordo_has_names
    set -g __ordo_names_found (__ordo_names)
    test (count $__ordo_names_found) -gt 0
end
complete -c ordo -f -n __ordo_has_names -a '$__ordo_names_found'
"#;

pub(crate) fn man() -> Result<ExitCode, Problems> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(|e| Problem::new(Kind::Usage, format!("cannot render the man page: {e}")))?;
    write(&out)
}

fn write(bytes: &[u8]) -> Result<ExitCode, Problems> {
    // A closed pipe is fine.
    let _ = std::io::stdout().lock().write_all(bytes);
    Ok(ExitCode::SUCCESS)
}
