//! The `calls` capability: a plugin calling another plugin loaded in the
//! same runtime, in a fresh instance, inside the caller's trace and on what
//! is left of the caller's budgets.
//!
//! Linked by hand rather than through `bindgen!`'s `Host` trait: the call
//! needs the caller's store, to hand its remaining fuel to the callee and
//! take back what the callee left.

use crate::bindings::plugin::calls::CallError;
use crate::ctx::GuestFailure;
use crate::runtime::{Invocation, InvocationError, MAX_CALL_DEPTH, PluginState};
use wasmtime::StoreContextMut;
use wasmtime::component::Linker;

/// The callee ran out of a budget it shared with its caller (fuel or the
/// deadline): the caller is out of it too, and traps with this.
#[derive(Debug)]
pub(crate) struct CalleeExhausted(pub(crate) GuestFailure);

impl std::fmt::Display for CalleeExhausted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a plugin call exhausted the invocation's budget: {}",
            self.0.message
        )
    }
}

impl std::error::Error for CalleeExhausted {}

pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    linker.instance("wasmtrace:plugin/calls@0.2.0")?.func_wrap(
        "call",
        |store: StoreContextMut<'_, PluginState>,
         (context, plugin, input): (u32, String, String)| {
            call(store, context, &plugin, &input).map(|r| (r,))
        },
    )
}

fn call(
    mut store: StoreContextMut<'_, PluginState>,
    context: u32,
    name: &str,
    input: &str,
) -> wasmtime::Result<Result<String, CallError>> {
    let state = store.data_mut();
    let depth = state.calls.depth;
    let runtime = state.calls.runtime.clone();
    if depth >= MAX_CALL_DEPTH {
        return Ok(Err(CallError::Refused(format!(
            "cannot call plugin {name:?}: plugin calls are nested {MAX_CALL_DEPTH} deep already"
        ))));
    }
    let table = &mut state.tracing.table;
    if table.budget.calls == 0 {
        return Ok(Err(CallError::Refused(format!(
            "cannot call plugin {name:?}: the invocation made its {} plugin calls already",
            table.limits.max_plugin_calls
        ))));
    }
    let Some(callee) = runtime.registered(name) else {
        return Ok(Err(CallError::UnknownPlugin));
    };
    table.budget.calls -= 1;
    // The callee's invocation span is a span of the caller's call tree.
    let parent = table.admit_host_span(Some(context));
    if parent.is_some() {
        table.host_span_ended();
    }
    let given = table
        .budget
        .for_callee(callee.limits(), runtime.config.deadline);
    let fuel = store.get_fuel().ok();
    let invocation = Invocation {
        span_depth: parent.as_ref().map_or(0, |p| p.depth + 1),
        parent: parent.map(|p| p.cx),
        call_depth: depth + 1,
        budget: given.clone(),
        fuel,
    };
    let finished = runtime.invoke(&callee, input, invocation);
    store
        .data_mut()
        .tracing
        .table
        .budget
        .settle(&given, &finished.budget);
    if let Some(left) = finished.fuel {
        store.set_fuel(left)?;
    }
    Ok(match finished.outcome {
        Ok(output) => Ok(output),
        Err(InvocationError::Failed(message)) => Err(CallError::Failed(message)),
        Err(InvocationError::Exit(code)) => Err(CallError::Failed(format!(
            "plugin {name:?} exited with status {code}"
        ))),
        Err(InvocationError::Crashed(failure)) => {
            if matches!(
                failure.kind.as_str(),
                "wasm.out_of_fuel" | "wasm.deadline_exceeded"
            ) {
                return Err(wasmtime::Error::new(CalleeExhausted(failure)));
            }
            Err(CallError::Crashed(failure.message))
        }
    })
}
