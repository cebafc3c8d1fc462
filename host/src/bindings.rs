//! Generated bindings for the `wasmtrace:tracing` WIT package. Private: the
//! crate re-exports only what embedders need.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
    with: {
        "wasmtrace:tracing/tracing.span": crate::guest_spans::GuestSpan,
        "wasmtrace:tracing/propagation.context": crate::propagation::GuestContext,
        "wasmtrace:tracing/propagation.context-guard": crate::propagation::GuestContextGuard,
    },
});

pub(crate) use self::wasmtrace::tracing::{cache, plugins, propagation, tracing, types};
