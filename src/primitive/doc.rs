//! Reference documentation of a primitive, next to its code: the option list is also
//! what the Rhai constructor accepts (unknown options are typos), so the docs cannot
//! list an option the code does not take, or miss one it does.

/// One option of a primitive's option map.
#[derive(Debug)]
pub struct OptionDoc {
    pub name: &'static str,
    /// What it takes: "string", "integer or octal string", "array of steps"…
    pub kind: &'static str,
    pub text: &'static str,
}

#[derive(Debug)]
pub struct Doc {
    /// The function scripts call.
    pub name: &'static str,
    /// Its call forms.
    pub signatures: &'static [&'static str],
    pub summary: &'static str,
    pub options: &'static [OptionDoc],
    pub example: &'static str,
}

impl Doc {
    /// The option names, for the constructor's typo check.
    pub fn option_names(&self) -> Vec<&'static str> {
        self.options.iter().map(|o| o.name).collect()
    }
}
