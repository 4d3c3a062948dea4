//! Registering native functions together with their signature and documentation
//! (Rhai metadata), so the REPL can complete them and the reference can list them.

use rhai::{Engine, FuncRegistration, RhaiNativeFunc, Variant};

/// Registers `func` as the script function `name`. `params` names the script's
/// arguments (`"name: string"`, receiver first for methods) and ends with the
/// return type; `doc` is its documentation, one paragraph per line.
pub(crate) fn document<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool, FUNC>(
    engine: &mut Engine,
    name: &str,
    params: &[&str],
    doc: &str,
    func: FUNC,
) where
    FUNC: RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
{
    FuncRegistration::new(name)
        .with_params_info(params)
        .with_comments([doc_comment(doc)])
        .register_into_engine(engine, func);
}

/// Registers the property getter `value.name` with its documentation.
pub(crate) fn document_getter<A: 'static, const N: usize, const X: bool, R: Variant + Clone, const F: bool, FUNC>(
    engine: &mut Engine,
    name: &str,
    params: &[&str],
    doc: &str,
    func: FUNC,
) where
    FUNC: RhaiNativeFunc<A, N, X, R, F> + Send + Sync + 'static,
{
    FuncRegistration::new_getter(name)
        .with_params_info(params)
        .with_comments([doc_comment(doc)])
        .register_into_engine(engine, func);
}

/// Rhai keeps documentation as the `///` lines of a comment block.
fn doc_comment(doc: &str) -> String {
    doc.lines()
        .map(|l| {
            if l.is_empty() {
                "///".to_string()
            } else {
                format!("/// {l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
