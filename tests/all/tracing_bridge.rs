//! The SDK's `tracing` bridge: a handler written with nothing but the
//! `tracing` crate's macros and `#[instrument]` gives the same span tree,
//! received over OTLP, as the same handler written with the SDK's own API
//! and with `#[traced]` (`tests/guests/tracing-bridge`).

use wasmtrace_test_artifacts::TRACING_BRIDGE;
use wasmtrace_test_support::{AttrValue, SpanTree, StatusCode};

use crate::patterns::{Run, run_over_otlp, shape};

/// The span tree of one style's run, for comparison: names, kinds, status,
/// attributes and events, without ids, times or the per-instance
/// attributes. The bridge adds each `tracing` event's `level`, which the
/// other styles do not have: it is left out here (and checked apart).
fn styled_run(style: &str, text: &str) -> Run {
    let mut run = run_over_otlp(
        "tracing-bridge",
        TRACING_BRIDGE,
        &["--input", &format!("{style}:{text}")],
    );
    for span in &mut run.spans {
        for event in &mut span.events {
            if style == "tracing" && event.name != "exception" {
                assert_eq!(
                    event.attributes.remove("level"),
                    Some(AttrValue::String("INFO".into()))
                );
            }
        }
    }
    run
}

fn rendered(run: &Run) -> String {
    SpanTree::new(&run.spans).render_snapshot(&[])
}

#[test]
fn tracing_macros_give_the_sdk_tree() {
    let text = "the quick brown fox jumps over the lazy dog";
    let run = styled_run("sdk", text);
    assert_eq!(run.stdout(), "9 words, 8 unique");
    // The reference tree itself, so that three empty trees cannot agree.
    let tree = SpanTree::new(&run.spans);
    assert_eq!(
        tree.render_redacted(),
        shape(&[
            "invoke tracing-bridge",
            "  handle_request",
            "    validate",
            "    count",
            "      lookup"
        ])
    );
    assert_eq!(
        tree.find("lookup").unwrap().attr("word"),
        Some(&AttrValue::String("the".into()))
    );
    let count = tree.find("count").unwrap();
    assert_eq!(
        count.event("counted").unwrap().attr("unique"),
        Some(&AttrValue::Int(8))
    );

    let sdk = rendered(&run);
    for style in ["tracing", "traced"] {
        let other = styled_run(style, text);
        assert_eq!(other.stdout(), "9 words, 8 unique", "{style}");
        assert_eq!(
            rendered(&other),
            sdk,
            "the {style} tree differs from the SDK's"
        );
    }
}

#[test]
fn tracing_macros_record_errors_as_the_sdk_does() {
    let run = styled_run("sdk", "fail now");
    let tree = SpanTree::new(&run.spans);
    let validate = tree.find("validate").unwrap();
    assert_eq!(validate.status_code, StatusCode::Error);
    assert_eq!(
        validate
            .event("exception")
            .unwrap()
            .attr("exception.message"),
        Some(&AttrValue::String("request rejected".into()))
    );
    assert!(tree.find("count").is_none());
    let sdk = rendered(&run);
    for style in ["tracing", "traced"] {
        let other = styled_run(style, "fail now");
        assert_eq!(
            rendered(&other),
            sdk,
            "the {style} error tree differs from the SDK's"
        );
    }
}
