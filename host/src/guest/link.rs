//! The `wasmtrace:telemetry` imports in a linker: each function reads its
//! arguments in place within the limits (`lift`) and hands them to the
//! store's span table.

use super::args::Args;
use super::lift::{
    Bounds, InstrumentInfoRef, KeyValueRef, LinkRef, LogRecordRef, PairsRef, Reader, StatusRef,
};
use super::logs::LogArgs;
use super::metrics::{InstrumentRequest, MAX_BOUNDARIES};
use crate::bindings::telemetry::metrics::Number;
use crate::bindings::telemetry::tracing::SpanKind;
use crate::bindings::telemetry::types::SpanContext as WitSpanContext;
use crate::ctx::WasmtraceView;
use crate::guest::SpanTable;
use opentelemetry::trace::Status;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, WasmList, WasmStr};

const TYPES: &str = "wasmtrace:telemetry/types@0.2.0";
const PROPAGATION: &str = "wasmtrace:telemetry/propagation@0.2.0";
const TRACING: &str = "wasmtrace:telemetry/tracing@0.2.0";
const LOGS: &str = "wasmtrace:telemetry/logs@0.2.0";
const METRICS: &str = "wasmtrace:telemetry/metrics@0.2.0";

/// Carrier entries a propagator can read; the others are skipped unread.
fn is_propagation_header(name: &str) -> bool {
    ["traceparent", "tracestate", "baggage", "x-trace-id"]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(name))
}

/// W3C Baggage's bounds: 64 entries, 8192 bytes.
const MAX_BAGGAGE_ENTRIES: usize = 64;
const MAX_HEADER_VALUE: u32 = 8_192;

/// Reads a call's arguments out of the store's guest memory (`read`),
/// bounded by its table's limits, into the table's reusable buffers, then
/// runs `then` with the table and those arguments.
fn with_reader<T: WasmtraceView + 'static, A, R>(
    mut store: StoreContextMut<'_, T>,
    read: impl FnOnce(&mut Reader<'_, &mut StoreContextMut<'_, T>>) -> wasmtime::Result<A>,
    then: impl FnOnce(&mut SpanTable, &Args, A) -> R,
) -> wasmtime::Result<R> {
    let table = &mut store.data_mut().wasmtrace().table;
    let bounds = Bounds::of(&table.limits);
    let mut args = table.args.take().unwrap_or_default();
    args.clear();
    let mut counts = Default::default();
    let read = read(&mut Reader {
        store: &mut store,
        bounds,
        counts: &mut counts,
        args: &mut args,
    });
    let table = &mut store.data_mut().wasmtrace().table;
    let result = read.map(|read| {
        table.set_lifted(counts);
        let result = then(table, &args, read);
        table.settle_lifted();
        result
    });
    table.args = Some(args);
    result
}

/// The table of a store, for calls that read no guest memory.
fn table<'a, T: WasmtraceView + 'static>(
    store: &'a mut StoreContextMut<'_, T>,
) -> &'a mut SpanTable {
    &mut store.data_mut().wasmtrace().table
}

/// Adds `wasmtrace:telemetry/types` (types only) to a linker.
pub fn add_types_to_linker<T: WasmtraceView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    linker.instance(TYPES)?;
    Ok(())
}

/// Adds `wasmtrace:telemetry/propagation` to a linker.
pub fn add_propagation_to_linker<T: WasmtraceView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    let mut i = linker.instance(PROPAGATION)?;
    i.func_wrap("current", |mut store: StoreContextMut<'_, T>, (): ()| {
        Ok((table(&mut store).current(),))
    })?;
    i.func_wrap(
        "extract",
        |store: StoreContextMut<'_, T>, (carrier,): (PairsRef,)| {
            with_reader(
                store,
                |r| r.pairs(&carrier, is_propagation_header, 64, MAX_HEADER_VALUE),
                |table, args, ()| (table.extract(&args.pairs()),),
            )
        },
    )?;
    i.func_wrap(
        "inject",
        |mut store: StoreContextMut<'_, T>, (cx,): (u32,)| Ok((table(&mut store).inject(cx),)),
    )?;
    i.func_wrap(
        "span-context-of",
        |mut store: StoreContextMut<'_, T>, (cx,): (u32,)| -> wasmtime::Result<(WitSpanContext,)> {
            Ok((table(&mut store).span_context(cx),))
        },
    )?;
    i.func_wrap(
        "baggage",
        |mut store: StoreContextMut<'_, T>, (cx,): (u32,)| Ok((table(&mut store).baggage(cx),)),
    )?;
    i.func_wrap(
        "with-baggage",
        |store: StoreContextMut<'_, T>, (cx, entries): (u32, PairsRef)| {
            with_reader(
                store,
                |r| r.pairs(&entries, |_| true, MAX_BAGGAGE_ENTRIES, MAX_HEADER_VALUE),
                |table, args, ()| (table.with_baggage(cx, args.pairs()),),
            )
        },
    )?;
    i.func_wrap(
        "attach",
        |mut store: StoreContextMut<'_, T>, (cx,): (u32,)| {
            table(&mut store).attach(cx);
            Ok(())
        },
    )?;
    i.func_wrap(
        "detach",
        |mut store: StoreContextMut<'_, T>, (cx,): (u32,)| {
            table(&mut store).detach(cx);
            Ok(())
        },
    )?;
    i.func_wrap(
        "release",
        |mut store: StoreContextMut<'_, T>, (cx,): (u32,)| {
            table(&mut store).release(cx);
            Ok(())
        },
    )?;
    Ok(())
}

/// Adds `wasmtrace:telemetry/tracing` to a linker.
pub fn add_tracing_to_linker<T: WasmtraceView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    let mut i = linker.instance(TRACING)?;
    i.func_wrap(
        "start",
        |mut store: StoreContextMut<'_, T>,
         (parent, name, kind, attributes, links, activate): (
            u32,
            WasmStr,
            SpanKind,
            WasmList<KeyValueRef>,
            WasmList<LinkRef>,
            bool,
        )| {
            let limits = &table(&mut store).limits;
            let (max_attributes, max_links, per_link) = (
                limits.max_attributes_per_span as usize,
                limits.max_links_per_span as usize,
                limits.max_attributes_per_link as usize,
            );
            with_reader(
                store,
                |r| {
                    let name = r.name(&name)?;
                    let attributes = r.attributes(&attributes, max_attributes)?;
                    if links.len() > 0 {
                        r.links(&links, max_links, per_link)?;
                    }
                    Ok((name, attributes))
                },
                |table, args, (name, attributes)| {
                    (table.start(parent, args, name, kind, attributes, activate),)
                },
            )
        },
    )?;
    i.func_wrap(
        "set-attributes",
        |mut store: StoreContextMut<'_, T>, (span, attributes): (u32, WasmList<KeyValueRef>)| {
            let max = table(&mut store).limits.max_attributes_per_span as usize;
            with_reader(
                store,
                |r| r.attributes(&attributes, max),
                |table, args, attributes| table.set_attributes(span, args, attributes),
            )
        },
    )?;
    i.func_wrap(
        "add-event",
        |mut store: StoreContextMut<'_, T>,
         (span, name, attributes): (u32, WasmStr, WasmList<KeyValueRef>)| {
            let max = table(&mut store).limits.max_attributes_per_event as usize;
            with_reader(
                store,
                |r| Ok((r.name(&name)?, r.attributes(&attributes, max)?)),
                |table, args, (name, attributes)| table.add_event(span, args, name, attributes),
            )
        },
    )?;
    i.func_wrap(
        "set-status",
        |store: StoreContextMut<'_, T>, (span, status): (u32, StatusRef)| {
            with_reader(
                store,
                |r| {
                    Ok(match &status {
                        StatusRef::Unset => None,
                        StatusRef::Ok => None,
                        StatusRef::Error(message) => Some(r.text(message)?),
                    })
                },
                |table, args, message| {
                    let status = match (&status, message) {
                        (_, Some(message)) => Status::error(args.text(message).to_owned()),
                        (StatusRef::Ok, None) => Status::Ok,
                        _ => Status::Unset,
                    };
                    table.set_status(span, status)
                },
            )
        },
    )?;
    i.func_wrap(
        "record-exception",
        |store: StoreContextMut<'_, T>,
         (span, kind, message, stacktrace): (u32, WasmStr, WasmStr, Option<WasmStr>)| {
            with_reader(
                store,
                |r| {
                    let stacktrace = match &stacktrace {
                        Some(s) => Some(r.text(s)?),
                        None => None,
                    };
                    Ok((r.text(&kind)?, r.text(&message)?, stacktrace))
                },
                |table, args, (kind, message, stacktrace)| {
                    table.record_exception(
                        span,
                        args.text(kind),
                        args.text(message),
                        stacktrace.map(|s| args.text(s)),
                    )
                },
            )
        },
    )?;
    i.func_wrap(
        "update-name",
        |store: StoreContextMut<'_, T>, (span, name): (u32, WasmStr)| {
            with_reader(
                store,
                |r| r.name(&name),
                |table, args, name| table.update_name(span, args.text(name)),
            )
        },
    )?;
    i.func_wrap(
        "is-recording",
        |mut store: StoreContextMut<'_, T>, (span,): (u32,)| {
            Ok((table(&mut store).is_recording(span),))
        },
    )?;
    i.func_wrap(
        "end",
        |mut store: StoreContextMut<'_, T>, (span,): (u32,)| {
            table(&mut store).end(span);
            Ok(())
        },
    )?;
    Ok(())
}

/// Adds `wasmtrace:telemetry/logs` to a linker.
pub fn add_logs_to_linker<T: WasmtraceView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    let mut i = linker.instance(LOGS)?;
    i.func_wrap(
        "emit",
        |mut store: StoreContextMut<'_, T>, (cx, record): (u32, LogRecordRef)| {
            let max = table(&mut store).limits.max_attributes_per_log as usize;
            with_reader(
                store,
                |r| {
                    let severity_text = match &record.severity_text {
                        Some(s) => Some(r.name(s)?),
                        None => None,
                    };
                    let event_name = match &record.event_name {
                        Some(s) => Some(r.name(s)?),
                        None => None,
                    };
                    let body = match record.body {
                        Some(body) => Some(r.value(body)?),
                        None => None,
                    };
                    Ok(LogArgs {
                        severity_number: record.severity_number,
                        severity_text,
                        body,
                        attributes: r.attributes(&record.attributes, max)?,
                        event_name,
                        timestamp: None,
                    })
                },
                |table, args, log| table.emit_log(cx, args, log),
            )
        },
    )?;
    i.func_wrap(
        "enabled",
        |mut store: StoreContextMut<'_, T>, (severity,): (u8,)| {
            Ok((table(&mut store).log_enabled(severity),))
        },
    )?;
    Ok(())
}

/// Adds `wasmtrace:telemetry/metrics` to a linker.
pub fn add_metrics_to_linker<T: WasmtraceView + 'static>(
    linker: &mut Linker<T>,
) -> wasmtime::Result<()> {
    let mut i = linker.instance(METRICS)?;
    i.func_wrap(
        "create",
        |store: StoreContextMut<'_, T>, (info,): (InstrumentInfoRef,)| {
            with_reader(
                store,
                |r| {
                    // Past 255 bytes a name is invalid: reading one more
                    // byte is enough to refuse it.
                    let name = r.string(&info.name, 256)?;
                    let unit = r.string(&info.unit, 64)?;
                    let description = r.text(&info.description)?;
                    let boundaries = match &info.boundaries {
                        // One past the limit, to refuse what is over it.
                        Some(b) => Some(r.floats(b, MAX_BOUNDARIES + 1)?),
                        None => None,
                    };
                    Ok((name, unit, description, boundaries))
                },
                |table, args, (name, unit, description, boundaries)| {
                    (table.create_instrument(InstrumentRequest {
                        name: args.text(name).to_owned(),
                        kind: info.kind,
                        float: info.float,
                        unit: args.text(unit).to_owned(),
                        description: args.text(description).to_owned(),
                        boundaries,
                    }),)
                },
            )
        },
    )?;
    i.func_wrap(
        "record",
        |mut store: StoreContextMut<'_, T>,
         (instrument, value, attributes): (u32, Number, WasmList<KeyValueRef>)| {
            let max = table(&mut store).limits.max_attributes_per_measurement as usize;
            with_reader(
                store,
                |r| r.attributes(&attributes, max),
                |table, args, attributes| {
                    table.record_measurement(instrument, args, value, attributes)
                },
            )
        },
    )?;
    Ok(())
}
