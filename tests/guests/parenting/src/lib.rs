//! A test guest for explicit parenting: children of an inactive span, of a
//! context extracted from a carrier, and a new root trace.

use wasmtrace_sdk::{Context, PropagatedContext, Span, attrs};

fn handle(input: String) -> Result<String, String> {
    let background = Span::builder("background").activate(false).start();
    let _sibling = Span::builder("sibling").start(); // not under `background`
    drop(
        Span::builder("background.step")
            .child_of(&background)
            .start(),
    );
    drop(_sibling);
    drop(background);

    // `input` is a traceparent; continue that trace explicitly.
    let carrier: PropagatedContext = [("traceparent", input.as_str())].into_iter().collect();
    let remote = Context::extract(&carrier);
    drop(
        Span::builder("remote.child")
            .parent(&remote)
            .attributes(attrs! { "from" => "carrier" })
            .start(),
    );

    let root = Context::empty();
    drop(Span::builder("new.root").parent(&root).start());
    Ok("ok".to_owned())
}

wasmtrace_sdk::plugin!(handle);
