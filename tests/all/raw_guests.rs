//! The 0.2 WIT from other languages: the same plugin through the raw
//! bindings of Python (componentize-py), JavaScript (componentize-js) and
//! Rust (wit-bindgen) records the same trace: nested spans with an
//! attribute of every type (`tests/guests-py/raw`, `tests/guests-js/raw`,
//! `tests/guests/raw-rust`).

use opentelemetry::Context;
use wasmtrace::testkit::{AttrValue, PluginTest};
use wasmtrace_test_support::toolchains::{self, BuildError};

fn out(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// Runs the raw guest at `path` and checks its trace.
fn assert_raw_trace(path: &std::path::Path, language: &str) {
    let test = PluginTest::load(path).unwrap_or_else(|e| panic!("{language}: {e:#}"));
    let run = test.invoke_with_parent("x", &Context::new());
    assert_eq!(
        run.output.as_deref().ok(),
        Some("raw:x"),
        "{language}: {:?}",
        run.output
    );
    let tree = run.tree();
    tree.assert_single_trace();
    let name = test_name(&run);
    assert_eq!(
        tree.render_redacted(),
        format!("invoke {name}\n  outer\n    inner\n"),
        "{language}"
    );
    let outer = tree.find("outer").unwrap();
    assert_eq!(
        outer.kind,
        wasmtrace::testkit::SpanKind::Server,
        "{language}"
    );
    let expected = [
        ("s", AttrValue::String("text".into())),
        ("b", AttrValue::Bool(true)),
        ("i", AttrValue::Int(i64::MIN)),
        ("f", AttrValue::Double(1.5)),
        ("sa", AttrValue::Array(vec!["a".into(), "b".into()])),
        ("ba", AttrValue::Array(vec![true.into(), false.into()])),
        ("ia", AttrValue::Array(vec![1.into(), i64::MAX.into()])),
        ("fa", AttrValue::Array(vec![0.5.into(), 2.5.into()])),
    ];
    for (key, value) in expected {
        assert_eq!(outer.attr(key), Some(&value), "{language}: {key}");
    }
    assert_eq!(
        tree.find("inner").unwrap().attr("n"),
        Some(&AttrValue::Int(1))
    );
}

fn test_name(run: &wasmtrace::testkit::TestRun) -> String {
    run.spans
        .iter()
        .find_map(|s| s.name.strip_prefix("invoke ").map(str::to_owned))
        .expect("an invocation span")
}

#[test]
fn raw_rust_bindings_record_nested_typed_spans() {
    assert_raw_trace(wasmtrace_test_artifacts::RAW_RUST.as_ref(), "Rust");
}

#[test]
fn raw_python_bindings_record_nested_typed_spans() {
    let dir = toolchains::repo_root().join("tests/guests-py/raw");
    let built = toolchains::python_component(
        &dir,
        "app",
        "wasmtrace:plugin/plugin",
        &[],
        &out("raw-py.wasm"),
    );
    let Some(path) = BuildError::or_skip(built, "raw_python_bindings_record_nested_typed_spans")
    else {
        return;
    };
    assert_raw_trace(&path, "Python");
}

#[test]
fn raw_javascript_bindings_record_nested_typed_spans() {
    let source = toolchains::repo_root().join("tests/guests-js/raw/app.js");
    let built = toolchains::js_component(&source, &[], &out("raw-js.wasm"));
    let Some(path) =
        BuildError::or_skip(built, "raw_javascript_bindings_record_nested_typed_spans")
    else {
        return;
    };
    assert_raw_trace(&path, "JavaScript");
}
