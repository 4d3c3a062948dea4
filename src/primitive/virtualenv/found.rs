//! What the probe finds out about a virtualenv and its host (the interpreter, the
//! environment and its record, the tools that can build it), and what a deploy
//! must do about it.

/// What the probe found out about the environment and the host's tools.
#[derive(Debug, Default)]
pub(super) struct Found {
    pub(super) python: Option<String>,
    pub(super) version: Option<String>,
    pub(super) env: String,
    pub(super) record: Vec<String>,
    pub(super) uv: Option<String>,
    pub(super) pip_wheel: Option<String>,
}

impl Found {
    pub(super) fn read(text: &str) -> Found {
        let mut f = Found::default();
        for line in text.lines() {
            let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
            match tag {
                "python" if rest != "-" => f.python = Some(rest.to_string()),
                "version" => f.version = Some(rest.trim().to_string()),
                "env" => f.env = rest.to_string(),
                "record" => f.record.push(rest.to_string()),
                "uv" => f.uv = Some(rest.to_string()),
                // The glob sorts them; the last is the newest of the usual ones.
                "pipwheel" => f.pip_wheel = Some(rest.to_string()),
                _ => {}
            }
        }
        f
    }

    pub(super) fn recorded(&self, key: &str) -> Option<&str> {
        self.record.iter().find_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
    }
}

/// The tool that will build, as the apply script names it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Tool {
    Uv(String),
    PipWheel(String),
    Ensurepip,
}

impl Tool {
    pub(super) fn arg(&self) -> String {
        match self {
            Tool::Uv(p) => format!("uv:{p}"),
            Tool::PipWheel(p) => format!("pip:{p}"),
            Tool::Ensurepip => "ensurepip".into(),
        }
    }

    pub(super) fn shown(&self) -> &'static str {
        match self {
            Tool::Uv(_) => "uv",
            Tool::PipWheel(_) => "pip from Debian's bundled wheel",
            Tool::Ensurepip => "ensurepip",
        }
    }
}

/// What a deploy does to the environment.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Work {
    Nothing,
    Conflict(String),
    Create,
    Rebuild(String),
    Update,
}

/// The host's interpreter and the tool that builds with it.
#[derive(Debug)]
pub(crate) struct Host {
    /// The interpreter's path on the host.
    pub(crate) python: String,
    /// Its version (`3.11.2`) and major.minor (`3.11`).
    pub(crate) version: String,
    pub(crate) minor: String,
    pub(super) tool: Tool,
}

impl Host {
    /// How the environment is built, for a plan: "uv", "pip from Debian's bundled wheel".
    pub(crate) fn tool_shown(&self) -> &'static str {
        self.tool.shown()
    }
}

pub(super) struct Decision {
    pub(super) work: Work,
    /// The interpreter's path on the host, and its version.
    pub(super) python: String,
    pub(super) version: String,
    pub(super) tool: Tool,
}

/// `3.11.2` from `Python 3.11.2`, and its `3.11`.
pub(super) fn version(said: &str) -> Option<(String, String)> {
    let v = said.strip_prefix("Python ")?.trim();
    let mut parts = v.split('.');
    let (major, minor) = (parts.next()?, parts.next()?);
    let minor: String = minor.chars().take_while(char::is_ascii_digit).collect();
    (major.chars().all(|c| c.is_ascii_digit()) && !major.is_empty() && !minor.is_empty())
        .then(|| (v.to_string(), format!("{major}.{minor}")))
}
