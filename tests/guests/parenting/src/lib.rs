//! A test guest for explicit parenting: children of an inactive span, of a
//! context extracted from a carrier (explicitly, attached, and under an
//! activated span), and a new root trace. In an unsampled invocation it
//! shows which spans the SDK may skip and which the host must decide.

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

    // The current span changes under an attached context and under an
    // activated span with an explicit parent: spans started there follow
    // that context's sampling, not the invocation's.
    {
        let _attached = remote.attach();
        drop(Span::builder("attached.child").start());
    }
    {
        let _continued = Span::builder("remote.activated").parent(&remote).start();
        drop(Span::builder("remote.activated.child").start());
    }
    // Back under the invocation's span.
    drop(Span::builder("after").start());

    let root = Context::empty();
    drop(Span::builder("new.root").parent(&root).start());
    Ok("ok".to_owned())
}

wasmtrace_sdk::plugin!(handle);
