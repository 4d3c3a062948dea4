//! The one place where sensitive values leave the output. Content marked sensitive
//! never reaches an event in the first place (its diff is built masked, see
//! `primitive::Diff::Hidden`); what can still carry a secret is text that came back
//! from a host or a script — command output, error messages, prints. [`Redacting`]
//! wraps the reporter and masks every known secret value in every text field of
//! every event, in the forms a command is likely to echo it (as is, base64,
//! URL-encoded), before any renderer sees it — the problems that end a run too
//! (`Event::Error`), so this is the only place output is masked. A command's output comes as whole streams ([`Reporter::output`]),
//! masked before it is split into lines, so a secret that spans lines (a key file)
//! is masked too.

use std::sync::Arc;

use super::{Event, Reporter};
pub use crate::secrets::Redactor;

/// A reporter that masks secrets in every event before passing it on.
pub struct Redacting {
    inner: Arc<dyn Reporter>,
    redactor: Redactor,
}

impl Redacting {
    pub fn new(inner: Arc<dyn Reporter>, redactor: Redactor) -> Self {
        Redacting { inner, redactor }
    }
}

impl Reporter for Redacting {
    fn event(&self, event: &Event) {
        self.inner.event(&event.map_text(&|t| self.redactor.redact(t)));
    }

    /// Masked as a whole, then split: a secret spanning lines is masked whole.
    fn output(&self, host: &str, stream: super::Stream, text: &str) {
        self.inner.output(host, stream, &self.redactor.redact(text));
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

impl Event {
    /// The event with `f` applied to every free-text field.
    pub fn map_text(&self, f: &dyn Fn(&str) -> String) -> Event {
        let opt = |o: &Option<String>| o.as_deref().map(f);
        let mut e = self.clone();
        match &mut e {
            Event::Notice { text, .. } | Event::Print { text, .. } => *text = f(text),
            Event::Planned { detail, diff, .. } => {
                *detail = opt(detail);
                if let Some(d) = diff {
                    *d = d.map_text(f);
                }
            }
            Event::Step { error, .. } | Event::CommandDone { error, .. } => *error = opt(error),
            Event::Output { line, .. } => *line = f(line),
            Event::StepOutput { text, .. } => *text = f(text),
            Event::Rolling { before, after, .. } => {
                *before = opt(before);
                *after = opt(after);
            }
            Event::Batch { error, .. } => *error = opt(error),
            Event::HostsSkipped { hosts } => {
                for h in hosts {
                    h.message = f(&h.message);
                }
            }
            Event::Hook { command, error, .. } => {
                *command = f(command);
                *error = opt(error);
            }
            Event::HistoryProblem { text, .. } => *text = f(text),
            Event::LogEntry(entry) => map_entry(entry, f),
            Event::HostStatus(h) => {
                if let Some(d) = &mut h.deployed {
                    d.set = d.set.iter().map(|v| f(v)).collect();
                }
                if let Some(e) = &mut h.current {
                    map_entry(e, f);
                }
            }
            Event::Result { text, value } => {
                *text = f(text);
                map_json(value, f);
            }
            Event::Warning { report, problem } | Event::Error { report, problem } => {
                report.message = f(&report.message);
                report.help = report.help.as_deref().map(f);
                *problem = std::sync::Arc::new((**problem).clone().map_text(f));
            }
            Event::Start { .. }
            | Event::PlanDone { .. }
            | Event::Progress { .. }
            | Event::HostDone { .. }
            | Event::Summary { .. }
            | Event::Checked { .. }
            | Event::VersionsDiffer { .. }
            | Event::Host { .. }
            | Event::Component { .. }
            | Event::Library { .. }
            | Event::LibraryPinned { .. }
            | Event::Created { .. } => {}
        }
        e
    }
}

/// The free text of a history entry (values typed on a command line, notes)
/// through `f`: the history masks secrets when it writes, this masks what it could
/// not know then.
fn map_entry(e: &mut super::LogEntry, f: &dyn Fn(&str) -> String) {
    e.set = e.set.iter().map(|v| f(v)).collect();
    e.rev = e.rev.as_deref().map(f);
    e.what = e.what.as_deref().map(f);
    for h in &mut e.hosts {
        h.note = h.note.as_deref().map(f);
    }
}

/// Every string in `value` (keys stay: they are names, not data) through `f`.
fn map_json(value: &mut serde_json::Value, f: &dyn Fn(&str) -> String) {
    match value {
        serde_json::Value::String(s) => *s = f(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| map_json(v, f)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| map_json(v, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::primitive::Diff;

    #[derive(Default)]
    struct Collect(Mutex<Vec<String>>);

    impl Reporter for Collect {
        fn event(&self, event: &Event) {
            self.0.lock().unwrap().push(serde_json::to_string(event).unwrap());
        }
    }

    #[test]
    fn no_renderer_sees_a_secret() {
        let collect = Arc::new(Collect::default());
        let r = Redacting::new(collect.clone(), Redactor::new(["hunter2"]));
        r.event(&Event::Output {
            host: "h".into(),
            stream: super::super::Stream::Stdout,
            line: "password=hunter2".into(),
        });
        r.event(&Event::Planned {
            host: "h".into(),
            step: <crate::model::StepId as crate::model::Id>::new(0),
            path: "h:x file a".into(),
            change: Some(crate::primitive::Change::Update),
            detail: None,
            diff: Some(Diff::Text("-old\n+pw hunter2\n".into())),
            span: None,
            privileged: false,
        });
        r.event(&Event::Step {
            host: "h".into(),
            step: <crate::model::StepId as crate::model::Id>::new(0),
            path: "p".into(),
            status: super::super::StepStatus::Failed,
            span: None,
            duration_ms: 0,
            error: Some("echo hunter2 failed".into()),
        });
        r.event(&Event::Result {
            text: "token: hunter2".into(),
            value: serde_json::json!({ "token": ["hunter2"] }),
        });
        let seen = collect.0.lock().unwrap().join("\n");
        assert!(!seen.contains("hunter2"), "{seen}");
        assert_eq!(seen.matches(crate::secrets::MASK).count(), 5, "{seen}");
    }

    /// A problem that ends the run reaches people through the reporter too, and
    /// what miette renders — the labels shown with the source, a label in
    /// another file as a note — is made from the masked texts.
    #[test]
    fn a_rendered_problem_shows_no_secret_in_its_labels() {
        struct Render(Mutex<String>);
        impl Reporter for Render {
            fn event(&self, event: &Event) {
                if let Event::Error { problem, .. } = event {
                    let shown = format!("{:?}", miette::Report::new((**problem).clone()));
                    self.0.lock().unwrap().push_str(&shown);
                }
            }
        }
        let sources = crate::source::SourceMap::default();
        sources.insert("a.rhai", "let x = 1;\nlet y = 2;\n");
        sources.insert("b.rhai", "let z = 3;\n");
        let problem = crate::problem::Problem::new(crate::problem::Kind::Script, "failed: hunter2")
            .at(Some(&crate::source::Span::new("a.rhai", 1, 5)), "x is hunter2")
            .at(Some(&crate::source::Span::new("b.rhai", 1, 5)), "z saw hunter2")
            .with_sources(&sources);
        let unmasked = format!("{:?}", miette::Report::new(problem.clone()));
        assert!(
            unmasked.contains("x is hunter2") && unmasked.contains("z saw hunter2"),
            "{unmasked}"
        );
        let render = Arc::new(Render(Mutex::new(String::new())));
        let r = Redacting::new(render.clone(), Redactor::new(["hunter2"]));
        r.event(&Event::Error {
            report: super::super::ProblemReport::of(&problem),
            problem: Arc::new(problem),
        });
        let shown = render.0.lock().unwrap().clone();
        assert!(shown.contains("x is") && shown.contains("z saw"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
