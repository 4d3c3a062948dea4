//! The `:` commands of the REPL (`:help`, `:hosts`, `:env`, `:reload`, `:quit`).

use super::helper::COMMANDS;
use super::{Flow, REPL_FUNCTIONS, Session};
use crate::problem::suggest::{did_you_mean, list_or_none};
use crate::problem::{Kind, Problem, Problems};
use crate::report::Event;

impl Session<'_> {
    pub(super) fn command(&mut self, command: &str) -> Result<Flow, Problems> {
        let (name, arg) = command.split_once(char::is_whitespace).unwrap_or((command, ""));
        let arg = arg.trim();
        match name {
            "quit" | "q" | "exit" => return Ok(Flow::Quit),
            "help" | "h" => self.help(arg)?,
            "hosts" => {
                let env = self.live.env()?;
                for e in crate::report::host_events(&env.model) {
                    self.ws.reporter.event(&e);
                }
            }
            "env" if !arg.is_empty() => {
                self.switch(arg, true)?;
                self.loaded_notice();
            }
            "env" => {
                return Err(Problem::new(Kind::Usage, ":env needs the name of an environment")
                    .help(format!(
                        "environments of this project: {}",
                        list_or_none(&self.ws.project.environments())
                    ))
                    .into());
            }
            "reload" | "r" => {
                let Some(env) = self.env.clone() else {
                    return Err(Problem::new(Kind::Usage, "nothing to reload: no environment is loaded")
                        .help("load one with :env NAME")
                        .into());
                };
                self.switch(&env, false)?;
                self.loaded_notice();
            }
            other => {
                let known: Vec<&str> = COMMANDS.iter().map(|(c, _)| &c[1..]).collect();
                return Err(Problem::new(Kind::Usage, format!("unknown command `:{other}`"))
                    .help(format!(
                        "{}commands: {}",
                        did_you_mean(other, known.iter().copied()),
                        COMMANDS.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
                    ))
                    .into());
            }
        }
        Ok(Flow::Continue)
    }

    fn loaded_notice(&self) {
        if let Ok(env) = self.live.env() {
            let m = &env.model;
            self.ws.reporter.event(&Event::Notice {
                host: None,
                level: crate::report::Level::Info,
                text: format!(
                    "loaded {} (service {}): {} on {}",
                    m.environment,
                    m.service,
                    crate::text::plural(m.steps.len(), "step"),
                    crate::text::plural(m.hosts.len(), "host")
                ),
                span: None,
            });
        }
    }

    fn help(&self, name: &str) -> Result<(), Problems> {
        let functions = self.interpreter.functions();
        let mut text = String::new();
        if name.is_empty() {
            text.push_str("Commands:\n");
            for (_, line) in COMMANDS {
                text.push_str(&format!("  {line}\n"));
            }
            text.push_str("\nFunctions for live hosts (the rest of the API works as in scripts):\n");
            for f in functions
                .iter()
                .filter(|f| f.module.is_none() && REPL_FUNCTIONS.contains(&f.name.as_str()))
                .filter(|f| f.doc.starts_with("REPL:"))
            {
                text.push_str(&format!("  {}\n", f.signature));
            }
            text.push_str(
                "\n:help NAME shows what a function does (file, template, command, step, …).\n\
                 Multi-line input continues while a bracket or string is open; Ctrl-C clears the line\n\
                 or stops a running command; Ctrl-D ends the session.\n",
            );
        } else {
            let wanted = name.trim_end_matches("()");
            let found: Vec<_> = functions
                .iter()
                .filter(|f| f.name == wanted || f.module.as_ref().is_some_and(|m| format!("{m}::{}", f.name) == wanted))
                .collect();
            if found.is_empty() {
                let names: Vec<&str> = functions.iter().map(|f| f.name.as_str()).collect();
                return Err(Problem::new(Kind::Usage, format!("no function `{wanted}`"))
                    .help(format!(
                        "{}:help lists the REPL's functions; completion (Tab) lists them all",
                        did_you_mean(wanted, names.iter().copied())
                    ))
                    .into());
            }
            for f in found {
                let module = f
                    .module
                    .as_ref()
                    .map(|m| format!("  (import \"{m}\")"))
                    .unwrap_or_default();
                text.push_str(&format!("{}{module}\n", f.signature));
                for line in f.doc.lines() {
                    text.push_str(&format!("    {line}\n"));
                }
            }
        }
        self.show(text.clone(), serde_json::Value::String(text));
        Ok(())
    }
}
