//! The reference in `docs/reference/` is generated from the code (`ordo doc
//! --reference docs/reference`): this fails when the committed files drift from
//! what the code says. `ordo doc NAME` prints one entry.

use std::path::Path;

use crate::support::Test;

#[test]
fn the_generated_reference_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/reference");
    for (name, text) in ordo::doc::reference() {
        let committed = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        assert!(
            committed == text,
            "docs/reference/{name} is not what the code says: run `cargo run -- doc --reference docs/reference` and commit the result"
        );
    }
}

#[test]
fn doc_prints_one_entry_and_suggests_names() {
    let p = Test::new().build();
    p.test()
        .args(&["doc", "command"])
        .stdout_contains("| `on_change` | step or array of steps |")
        .run();
    p.test()
        .args(&["doc", "c.attr"])
        .stdout_contains("attr(c: Component, name: string, default: any) -> any")
        .run();
    p.test()
        .args(&["doc", "ordo/release"])
        .stdout_contains("### `activate`")
        .run();
    p.test()
        .args(&["doc", "secrte"])
        .status(2)
        .stderr_contains("did you mean `secret`?")
        .run();
}

#[test]
fn definitions_describe_the_whole_api_for_editors() {
    let p = Test::new().build();
    p.test().args(&["definitions", "defs"]).run();
    let statics = std::fs::read_to_string(p.path("defs/__static__.d.rhai")).unwrap();
    assert!(
        statics.contains("fn template(path: string, source: string, vars: map) -> StepSpec;"),
        "{statics}"
    );
    assert!(statics.contains("fn secret(name: string) -> string;"), "{statics}");
    let web = std::fs::read_to_string(p.path("defs/ordo_web.d.rhai")).unwrap();
    assert!(web.contains("fn site(c, dir, spec);"), "{web}");
}
