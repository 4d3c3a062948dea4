//! The one place where sensitive values leave the output. Content marked sensitive
//! never reaches an event in the first place (its diff is built masked, see
//! `primitive::Diff::Hidden`); what can still carry a secret is text that came back
//! from a host or a script — command output, error messages, prints. [`Redacting`]
//! wraps the reporter and masks every known secret value in every text field of
//! every event, in the forms a command is likely to echo it (as is, base64,
//! URL-encoded), before any renderer sees it. `app` passes problems through the same
//! [`Redactor`].

use std::sync::Arc;

use base64::Engine;

use super::{Event, ProblemReport, Reporter};

/// What a masked value is replaced with.
pub(crate) const MASK: &str = "[redacted]";

/// Known secret values and the forms they may appear in.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    needles: Vec<String>,
}

impl Redactor {
    /// A redactor for these values; values shorter than 4 bytes are masked too, but
    /// only as whole values, never inside other words, to keep output readable.
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<[u8]>>(values: I) -> Self {
        let mut needles = Vec::new();
        for v in values {
            let v = v.as_ref();
            if v.is_empty() {
                continue;
            }
            let mut forms = vec![String::from_utf8_lossy(v).into_owned()];
            let b64 = base64::engine::general_purpose::STANDARD.encode(v);
            forms.push(b64.trim_end_matches('=').to_string());
            forms.push(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v));
            forms.push(url_encode(v));
            for f in forms {
                if f.len() >= 3 && !needles.contains(&f) {
                    needles.push(f);
                }
            }
        }
        // Longest first, so a value inside a longer form is not masked half-way.
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        Redactor { needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every known value masked.
    pub fn redact(&self, text: &str) -> String {
        if self.needles.is_empty() {
            return text.to_string();
        }
        let mut out = text.to_string();
        for n in &self.needles {
            if out.contains(n.as_str()) {
                out = out.replace(n.as_str(), MASK);
            }
        }
        out
    }
}

fn url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

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
        if self.redactor.is_empty() {
            return self.inner.event(event);
        }
        self.inner.event(&event.map_text(&|t| self.redactor.redact(t)));
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
            Event::Problem(ProblemReport { message, help, .. }) => {
                *message = f(message);
                *help = opt(help);
            }
            Event::Warning { report, problem } => {
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
            | Event::HostStatus(_)
            | Event::VersionsDiffer { .. }
            | Event::Host { .. }
            | Event::Component { .. }
            | Event::Created { .. } => {}
        }
        e
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
    fn masks_values_in_every_form() {
        let r = Redactor::new(["s3cr3t/pw"]);
        let b64 = base64::engine::general_purpose::STANDARD.encode("s3cr3t/pw");
        let text = format!("a s3cr3t/pw b {b64} c s3cr3t%2Fpw d");
        let out = r.redact(&text);
        assert!(
            !out.contains("s3cr3t") && !out.contains(b64.trim_end_matches('=')),
            "{out}"
        );
        assert_eq!(out.matches(MASK).count(), 3, "{out}");
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
        let seen = collect.0.lock().unwrap().join("\n");
        assert!(!seen.contains("hunter2"), "{seen}");
        assert_eq!(seen.matches(MASK).count(), 3, "{seen}");
    }
}
