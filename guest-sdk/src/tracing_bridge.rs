//! Code instrumented with the [`tracing`](https://docs.rs/tracing) crate,
//! traced by the host unchanged (cargo feature `tracing`).
//!
//! [`layer`] is a `tracing-subscriber` layer that turns spans into host
//! spans and events into span events; [`plugin!`](crate::plugin) installs
//! it as the global default (with the registry) when the feature is on, so
//! `#[tracing::instrument]`, `info_span!` and `info!` work with no set-up:
//!
//! | `tracing` | host |
//! |---|---|
//! | a span (`info_span!`, `#[instrument]`) | a span of the same name, its fields as attributes, a child of the current span (the SDK's and `tracing`'s are one: entering a `tracing` span makes it current for the SDK too) or of its explicit `parent:` |
//! | `span.record(..)` | attributes set on it |
//! | an event inside a span | an event on that span, named by its message (else its metadata name), its other fields and `level` as attributes |
//! | an `ERROR` event with an `error` field (`#[instrument(err)]`) | instead, an `exception` event with that message, and status Error |
//! | an event outside any span | an event on the SDK's current span |
//! | closing the span (its last handle dropped) | the span ends |
//!
//! Field values keep their types: integers, floats and booleans stay
//! numbers and booleans; `%display` and `?debug` fields become strings.

use crate::span::{SpanBuilder, SpanGuard};
use crate::value::{KeyValue, Value};
use crate::{Context, ContextGuard};
use std::fmt;
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::LookupSpan;

/// The layer that records `tracing` spans and events in the host.
#[derive(Debug, Default, Clone, Copy)]
pub struct WasmtraceLayer {
    _private: (),
}

/// The layer, for a subscriber of your own:
/// `tracing_subscriber::registry().with(wasmtrace_sdk::tracing_bridge::layer())`.
#[must_use]
pub fn layer() -> WasmtraceLayer {
    WasmtraceLayer::default()
}

/// Installs the registry with [`layer`] as the global default subscriber,
/// once; a no-op when a global subscriber is already set (yours wins).
/// [`plugin!`](crate::plugin) calls it.
pub fn install() {
    use tracing_subscriber::layer::SubscriberExt as _;
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(layer());
        let _ = tracing_core::dispatcher::set_global_default(subscriber.into());
    });
}

/// What a `tracing` span holds in its extensions: the host span, and the
/// contexts its entries attached (entries of an async span may overlap).
struct Bridged {
    span: SpanGuard,
    entered: Vec<ContextGuard>,
}

impl<S> Layer<S> for WasmtraceLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let builder = SpanBuilder::new(attrs.metadata().name())
            .attributes(fields.attributes)
            .activate(false);
        // A contextual span nests under the SDK's current span, which is
        // the innermost entered `tracing` span or SDK span; an explicit
        // parent is looked up; `parent: None` hangs off the invocation.
        let explicit = attrs.parent().and_then(|parent| {
            ctx.span(parent)?
                .extensions()
                .get::<Bridged>()
                .map(|b| b.span.context())
        });
        let guard = if let Some(parent) = explicit {
            builder.parent(&parent).start()
        } else if attrs.is_root() {
            builder.parent(&Context::invocation()).start()
        } else {
            builder.start()
        };
        span.extensions_mut().insert(Bridged {
            span: guard,
            entered: Vec::new(),
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        values.record(&mut fields);
        if let Some(bridged) = span.extensions().get::<Bridged>() {
            bridged.span.set_attributes(fields.attributes);
        }
    }

    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(bridged) = extensions.get_mut::<Bridged>() {
            let guard = bridged.span.context().attach();
            bridged.entered.push(guard);
        }
    }

    fn on_exit(&self, id: &Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        if let Some(bridged) = span.extensions_mut().get_mut::<Bridged>() {
            drop(bridged.entered.pop());
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: LayerContext<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let metadata = event.metadata();
        let name = fields
            .message
            .take()
            .unwrap_or_else(|| metadata.name().to_owned());
        fields
            .attributes
            .push(KeyValue::new("level", metadata.level().as_str()));
        let error = (*metadata.level() == Level::ERROR)
            .then(|| fields.error.take())
            .flatten();
        // `#[instrument(err)]`'s event is the span's error: recorded as an
        // `exception` event with status Error, not as an event of its own.
        let record = |span: &SpanGuard| match &error {
            Some(error) => {
                span.record_error(error.as_str());
                span.set_error(error);
            }
            None => span.add_event(&name, fields.attributes.iter().cloned()),
        };
        match ctx.event_span(event) {
            Some(span) => {
                if let Some(bridged) = span.extensions().get::<Bridged>() {
                    record(&bridged.span);
                }
            }
            None => crate::span::record_event(&name, fields.attributes.iter().cloned()),
        }
    }

    fn on_close(&self, id: Id, ctx: LayerContext<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        // Dropping the guards detaches and ends the host span.
        drop(span.extensions_mut().remove::<Bridged>());
    }
}

/// A span's or event's fields as typed attributes; an event's `message`
/// and `error` apart.
#[derive(Default)]
struct Fields {
    attributes: Vec<KeyValue>,
    message: Option<String>,
    error: Option<String>,
}

impl Fields {
    fn push(&mut self, field: &Field, value: Value) {
        self.attributes.push(KeyValue::new(field.name(), value));
    }
}

impl Visit for Fields {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        match i64::try_from(value) {
            Ok(value) => self.push(field, value.into()),
            Err(_) => self.push(field, value.to_string().into()),
        }
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = Some(value.to_owned()),
            "error" => {
                self.error = Some(value.to_owned());
                self.push(field, value.to_owned().into());
            }
            _ => self.push(field, value.to_owned().into()),
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_str(field, &value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }
}
