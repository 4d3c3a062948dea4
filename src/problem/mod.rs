//! The one user-facing error type. Every stage reports what went wrong as a
//! [`Problem`]: what (message), where (a script span, or host and step), and what to
//! do (help). `app` renders them through miette in one place and maps them to an
//! exit code.

mod merge;
pub mod render;
pub mod suggest;

use std::fmt;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

use crate::source::{SourceMap, Span};

/// What kind of problem this is; decides the diagnostic code and the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The project could not be found or read.
    Project,
    /// A script failed to parse or raised an error while evaluating.
    Script,
    /// The model is inconsistent: unknown attributes, unsatisfied requires, …
    Model,
    /// The plan cannot be ordered (cycle).
    Plan,
    /// A host refused us, or the connection to it failed after it was made.
    Connect,
    /// A host could not be reached at all (its name did not resolve, nothing
    /// answered, the network dropped the connection before the login): what
    /// `--skip-unreachable` may go on without. Shown and exiting like [`Kind::Connect`].
    Unreachable,
    /// A step failed on a host.
    Step,
    /// A host is locked by another deploy.
    Locked,
    /// The command line asked for something impossible.
    Usage,
    /// A signal (Ctrl-C, SIGTERM, SIGHUP) stopped the run.
    Interrupted,
    /// Encrypted secrets: no key to decrypt them, a broken recipients or secrets file.
    Secrets,
}

impl Kind {
    fn code(self) -> &'static str {
        match self {
            Kind::Project => "ordo::project",
            Kind::Script => "ordo::script",
            Kind::Model => "ordo::model",
            Kind::Plan => "ordo::plan",
            Kind::Connect | Kind::Unreachable => "ordo::connect",
            Kind::Step => "ordo::step",
            Kind::Locked => "ordo::locked",
            Kind::Usage => "ordo::usage",
            Kind::Interrupted => "ordo::interrupted",
            Kind::Secrets => "ordo::secrets",
        }
    }

    /// Which problem decides the exit code when several hosts fail differently:
    /// an interruption, then unreachable hosts, locked hosts, failed steps.
    fn severity(self) -> u8 {
        match self {
            Kind::Interrupted => 6,
            Kind::Connect | Kind::Unreachable => 5,
            Kind::Locked => 4,
            Kind::Step => 3,
            Kind::Project | Kind::Script | Kind::Model | Kind::Plan | Kind::Usage | Kind::Secrets => 2,
        }
    }

    /// The process exit code for this kind of problem (see `docs/cli.md`).
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Step => 1,
            Kind::Connect | Kind::Unreachable => 3,
            Kind::Locked => 4,
            Kind::Interrupted => 130,
            Kind::Project | Kind::Script | Kind::Model | Kind::Plan | Kind::Usage | Kind::Secrets => 2,
        }
    }
}

/// A problem as shown: made from its labels with the texts of the scripts, and
/// made again when the labels change (redaction, merging the problems of several
/// hosts).
#[derive(Clone, Debug)]
struct Shown {
    sources: SourceMap,
    /// The text of the first label's file.
    source: Option<NamedSource<String>>,
    /// The labels in that file.
    resolved: Vec<LabeledSpan>,
    /// The labels in other files, each a note with its own source.
    notes: Vec<Problem>,
}

/// A labelled place in a script.
#[derive(Clone, Debug)]
pub struct Label {
    pub span: Span,
    pub text: String,
}

#[derive(Clone, Debug)]
pub struct Problem {
    pub kind: Kind,
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    /// The host it happened on, for ordering problems of several hosts.
    pub host: Option<String>,
    /// What went wrong in a few words without the host ("connection refused"):
    /// problems of several hosts with the same cause are shown as one group,
    /// whatever else their texts say (`merge.rs`).
    pub cause: Option<String>,
    /// Further places worth showing (call sites, other ends of a cycle), each
    /// rendered with its own source.
    pub related: Vec<Problem>,
    /// What is shown, once the sources are attached ([`Problem::with_sources`]).
    /// Boxed: problems travel inside other errors, and most are never shown.
    shown: Option<Box<Shown>>,
    /// Where the project reaches what the first label points at, shown only when
    /// that label is in library code (see [`Problem::in_context`]).
    context: Option<Label>,
    /// Rendered as a note to the main error rather than an error of its own.
    advice: bool,
    /// A warning: worth saying, does not stop anything.
    warning: bool,
}

impl Problem {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Problem {
            kind,
            message: message.into(),
            labels: Vec::new(),
            help: None,
            host: None,
            cause: None,
            related: Vec::new(),
            shown: None,
            context: None,
            advice: false,
            warning: false,
        }
    }

    #[must_use]
    pub fn at(mut self, span: Option<&Span>, text: impl Into<String>) -> Self {
        if let Some(span) = span {
            self.labels.push(Label {
                span: span.clone(),
                text: text.into(),
            });
            self.resolve();
        }
        self
    }

    /// A place in the project's own scripts to show as well when the problem's
    /// first label is in the standard library or a recipe library (a step a recipe
    /// declared: the user wrote the component that called the recipe, not the
    /// recipe's line).
    #[must_use]
    pub fn in_context(mut self, span: Option<&Span>, text: impl Into<String>) -> Self {
        self.context = span.map(|span| Label {
            span: span.clone(),
            text: text.into(),
        });
        self
    }

    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The cause in a few words, the same for every host it happens on.
    #[must_use]
    pub fn cause(mut self, cause: impl Into<String>) -> Self {
        self.cause = Some(cause.into());
        self
    }

    #[must_use]
    pub fn on_host(mut self, host: &str) -> Self {
        self.host = Some(host.to_string());
        self
    }

    /// The problem with `f` applied to its texts (redaction before rendering).
    #[must_use]
    pub fn map_text(mut self, f: &dyn Fn(&str) -> String) -> Self {
        self.message = f(&self.message);
        self.help = self.help.as_deref().map(f);
        for l in self.labels.iter_mut().chain(self.context.as_mut()) {
            l.text = f(&l.text);
        }
        self.related = self.related.into_iter().map(|p| p.map_text(f)).collect();
        // The rendered labels and notes are made from the texts just mapped.
        self.resolve();
        self
    }

    /// Marks this problem as a warning (rendered as one; it stops nothing).
    #[must_use]
    pub fn as_warning(mut self) -> Self {
        self.warning = true;
        self
    }

    pub fn is_warning(&self) -> bool {
        self.warning
    }

    /// The diagnostic code (`ordo::step`…).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    #[must_use]
    pub fn related(mut self, other: Problem) -> Self {
        self.related.push(other);
        self
    }

    /// The first label's span, if any.
    pub fn span(&self) -> Option<&Span> {
        self.labels.first().map(|l| &l.span)
    }

    /// Attaches the source text for rendering: labels in the first label's file are
    /// shown with the source; labels in other files become notes. A problem whose
    /// first label lies in library code (the standard library or a recipe library)
    /// leads with the project's own line instead (see [`Problem::lead_with_project`]).
    #[must_use]
    pub fn with_sources(mut self, sources: &SourceMap) -> Self {
        // Attached once: a problem passed up through two layers keeps its labels single.
        // (A problem whose first file had no text yet may find it in this map.)
        if self.shown.as_ref().is_some_and(|s| s.source.is_some()) {
            return self;
        }
        self.related = std::mem::take(&mut self.related)
            .into_iter()
            .map(|p| p.with_sources(sources))
            .collect();
        self.shown = Some(Box::new(Shown {
            sources: sources.clone(),
            source: None,
            resolved: Vec::new(),
            notes: Vec::new(),
        }));
        self.lead_with_project(sources);
        self.resolve();
        self
    }

    /// A recipe's line is one the user did not write: when the first label lies in
    /// library code, the project's line that reaches the recipe leads — the
    /// component that called it ([`Problem::in_context`]), else the first label in
    /// the project's own code (an error's call into the recipe) — and the recipe's
    /// lines follow as notes.
    fn lead_with_project(&mut self, sources: &SourceMap) {
        let context = self.context.take();
        let Some(first) = self.labels.first() else {
            return;
        };
        if !sources.is_foreign(&first.span.file) {
            return;
        }
        let own = match context {
            Some(context) => {
                self.labels.retain(|l| l.span != context.span);
                context
            }
            None => match self.labels.iter().position(|l| !sources.is_foreign(&l.span.file)) {
                Some(i) => self.labels.remove(i),
                None => return,
            },
        };
        for label in &mut self.labels {
            if sources.is_foreign(&label.span.file) {
                label.text = if label.text.is_empty() {
                    "in the library".to_string()
                } else {
                    format!("in the library: {}", label.text)
                };
            }
        }
        self.labels.insert(0, own);
    }

    /// Makes the source, the labels shown with it and the notes from the labels.
    fn resolve(&mut self) {
        let Some(shown) = self.shown.as_deref_mut() else {
            return;
        };
        shown.source = None;
        shown.resolved.clear();
        shown.notes.clear();
        let sources = shown.sources.clone();
        let Some(first) = self.labels.first().map(|l| l.span.file.clone()) else {
            return;
        };
        let Some(text) = sources.get(&first) else {
            return;
        };
        for label in &self.labels {
            if label.span.file != first {
                let mut note = Problem::new(
                    self.kind,
                    if label.text.is_empty() {
                        format!("see {}", label.span)
                    } else {
                        label.text.clone()
                    },
                )
                .at(Some(&label.span), "")
                .with_sources(&sources);
                note.advice = true;
                shown.notes.push(note);
                continue;
            }
            if let Some((_, offset, len)) = sources.byte_range(&label.span) {
                let text = if label.text.is_empty() {
                    None
                } else {
                    Some(label.text.clone())
                };
                shown.resolved.push(LabeledSpan::new(text, offset, len));
            }
        }
        shown.source = Some(NamedSource::new(&*first, text.to_string()).with_language("Rhai"));
    }

    /// Plain one-line location for places where no source can be shown.
    pub fn location(&self) -> String {
        self.span().map(ToString::to_string).unwrap_or_default()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        if self.advice {
            return None;
        }
        Some(Box::new(self.kind.code()))
    }

    fn severity(&self) -> Option<miette::Severity> {
        if self.warning {
            return Some(miette::Severity::Warning);
        }
        self.advice.then_some(miette::Severity::Advice)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.shown.as_ref()?.source.as_ref().map(|s| s as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let shown = self.shown.as_ref()?;
        shown.source.as_ref()?;
        Some(Box::new(shown.resolved.iter().cloned()))
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        let notes = self.shown.as_ref().map_or(&[][..], |s| &s.notes[..]);
        if self.related.is_empty() && notes.is_empty() {
            return None;
        }
        Some(Box::new(self.related.iter().chain(notes).map(|p| p as &dyn Diagnostic)))
    }
}

/// Several problems found in one pass (all unknown attributes at once, say).
#[derive(Debug)]
pub struct Problems(pub Vec<Problem>);

impl From<Problem> for Problems {
    fn from(p: Problem) -> Self {
        Problems(vec![p])
    }
}

impl Problems {
    /// The most severe kind among them (it decides the exit code).
    pub fn kind(&self) -> Kind {
        self.0
            .iter()
            .map(|p| p.kind)
            .max_by_key(|k| k.severity())
            .unwrap_or(Kind::Usage)
    }

    /// Orders the problems for showing them: most severe first, then by host name,
    /// so the output does not depend on which host answered first (problems of the
    /// same kind and host keep their order); and the same problem on several hosts
    /// becomes one that lists them (`merge.rs`).
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            b.kind
                .severity()
                .cmp(&a.kind.severity())
                .then_with(|| a.host.cmp(&b.host))
        });
        self.merge_hosts();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_exit_code_do_not_depend_on_timing() {
        let mut ps = Problems(vec![
            // Failures that differ in more than their host (the same one would merge).
            Problem::new(Kind::Step, "b failed: exit 1").on_host("b"),
            Problem::new(Kind::Locked, "c locked").on_host("c"),
            Problem::new(Kind::Connect, "z down").on_host("z"),
            Problem::new(Kind::Step, "a failed: exit 2").on_host("a"),
        ]);
        assert_eq!(ps.kind(), Kind::Connect);
        ps.sort();
        let order: Vec<&str> = ps.0.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            order,
            vec!["z down", "c locked", "a failed: exit 2", "b failed: exit 1"]
        );
    }
}
