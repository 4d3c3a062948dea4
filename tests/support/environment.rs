//! The environment script of a test (`environments/<name>.rhai`), written from
//! builder calls instead of by hand in each test module. Lines come out in the
//! order of the calls and in the form a person writes them, so that error
//! snapshots pointing into the file stay readable.

pub struct Environment {
    pub name: String,
    lines: Vec<Line>,
    /// The lines the next `place` applies to: those of the last host call.
    group: std::ops::Range<usize>,
}

enum Line {
    Host {
        name: String,
        options: String,
        places: Vec<String>,
    },
    Raw(String),
}

impl Environment {
    pub fn new(name: &str) -> Self {
        Environment {
            name: name.to_string(),
            lines: Vec::new(),
            group: 0..0,
        }
    }

    /// `env.host("<name>", <options>)`, `options` a Rhai map.
    pub fn host(&mut self, name: &str, options: &str) {
        self.hosts(&[(name, options.to_string())]);
    }

    /// Several hosts at once; a following `place` applies to each.
    pub fn hosts(&mut self, hosts: &[(&str, String)]) {
        let start = self.lines.len();
        for (name, options) in hosts {
            self.lines.push(Line::Host {
                name: (*name).to_string(),
                options: options.clone(),
                places: Vec::new(),
            });
        }
        self.group = start..self.lines.len();
    }

    /// `.place("<component>")` or `.place("<component>", <attrs>)` on the hosts of
    /// the last host call.
    #[track_caller]
    pub fn place(&mut self, component: &str, attrs: Option<&str>) {
        assert!(
            !self.group.is_empty(),
            "place(\"{component}\") needs a host call before it"
        );
        let call = match attrs {
            Some(a) => format!(".place(\"{component}\", {a})"),
            None => format!(".place(\"{component}\")"),
        };
        for line in &mut self.lines[self.group.clone()] {
            if let Line::Host { places, .. } = line {
                places.push(call.clone());
            }
        }
    }

    /// `env.override("<component>", <attrs>);`
    pub fn override_(&mut self, component: &str, attrs: &str) {
        self.line(&format!("env.override(\"{component}\", {attrs});"));
    }

    /// Any other statement, as it is (`env.place("x", ["a", "b"]);`).
    pub fn line(&mut self, rhai: &str) {
        self.lines.push(Line::Raw(rhai.to_string()));
        self.group = 0..0;
    }

    pub fn render(&self, service: &str) -> String {
        let mut text = format!(
            "let env = environment(\"{}\", #{{ service: \"{service}\" }});\n",
            self.name
        );
        for line in &self.lines {
            match line {
                Line::Host { name, options, places } => {
                    text.push_str(&format!("env.host(\"{name}\", {options}){};\n", places.concat()));
                }
                Line::Raw(rhai) => {
                    text.push_str(rhai);
                    text.push('\n');
                }
            }
        }
        text
    }
}

/// The options of a host on the local transport whose home is `hosts/<name>`.
pub fn local(name: &str) -> String {
    format!("#{{ transport: \"local\", home: \"hosts/{name}\" }}")
}

/// The options of a host reached over ssh through the `ssh_config` alias `alias`.
pub fn ssh(alias: &str) -> String {
    format!("#{{ address: \"{alias}\" }}")
}
