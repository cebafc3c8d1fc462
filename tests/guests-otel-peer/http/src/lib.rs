//! A `wasi:http` handler whose request is a span (with the host's server
//! span as its parent) through the OpenTelemetry SDK and `wasi:otel`.

use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_wasi::{TraceContextPropagator, WasiPropagator as _, WasiSpanProcessor};
use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

wasip2::http::proxy::export!(Handler);

struct Handler;

impl wasip2::exports::http::incoming_handler::Guest for Handler {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let tracers = SdkTracerProvider::builder()
            .with_span_processor(WasiSpanProcessor::new())
            .build();
        let tracer = tracers.tracer("peer-http");
        let parent = TraceContextPropagator::new().extract(&Context::new());
        let path = request.path_with_query().unwrap_or_default();
        let mut span = tracer
            .span_builder("peer-handle")
            .with_attributes([
                KeyValue::new("url.path", path),
                KeyValue::new("peer.kind", "http"),
            ])
            .start_with_context(&tracer, &parent);
        let response = OutgoingResponse::new(Fields::new());
        let body = response.body().expect("the body");
        ResponseOutparam::set(out, Ok(response));
        let stream = body.write().expect("the body stream");
        stream
            .blocking_write_and_flush(b"peer ok")
            .expect("writing the body");
        drop(stream);
        OutgoingBody::finish(body, None).expect("finishing the body");
        span.end();
    }
}
