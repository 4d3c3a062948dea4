//! How problems look on a terminal: miette's graphical report, with each related
//! diagnostic (a note such as "`app` placed on `web1` here", another end of a
//! cycle) rendered as a report of its own under the main one. miette itself puts
//! an `Advice:` (or `Error:`) heading above each related diagnostic and, for one
//! without a code of its own, leaves that heading empty.

use std::fmt;

use miette::{Diagnostic, LabeledSpan, MietteHandler, ReportHandler, Severity, SourceCode};

/// The report handler `app` installs.
pub struct Handler(pub MietteHandler);

impl ReportHandler for Handler {
    fn debug(&self, diagnostic: &dyn Diagnostic, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.debug(&Alone(diagnostic), f)?;
        for related in diagnostic.related().into_iter().flatten() {
            writeln!(f)?;
            self.debug(related, f)?;
        }
        Ok(())
    }
}

/// A diagnostic without its related ones (the [`Handler`] renders those).
struct Alone<'a>(&'a dyn Diagnostic);

impl fmt::Debug for Alone<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0, f)
    }
}

impl fmt::Display for Alone<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.0, f)
    }
}

impl std::error::Error for Alone<'_> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl Diagnostic for Alone<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0.code()
    }

    fn severity(&self) -> Option<Severity> {
        self.0.severity()
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0.help()
    }

    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.0.url()
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.0.source_code()
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.0.labels()
    }

    fn diagnostic_source(&self) -> Option<&dyn Diagnostic> {
        self.0.diagnostic_source()
    }
}
