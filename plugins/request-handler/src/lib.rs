//! The request-handler plugin: the guide's "Nested Spans" pattern. It prices
//! an order (`sku:quantity, ...`) against a small catalogue, with one span per
//! step of the request.
//!
//! Trace shape (under the host's invocation span):
//!
//! ```text
//! handle_request              request_id, request.size, request.defaulted
//! ├── validate_request        validation.lines
//! │                           (invalid order: status Error + `exception` event)
//! ├── process_business_logic
//! │     attributes added mid-span (`add_attributes`): items_processed,
//! │     processing_status = "success", order.units, order.total_cents
//! └── send_response           response.size
//! ```
//!
//! With no input it prices `widget:2, gadget:1, gizmo:3`. An unknown SKU or a
//! quantity that is not a positive integer fails validation: the handler
//! returns `Err("invalid request: ...")`, `handle_request` gets status Error,
//! and the CLI exits non-zero.

use std::fmt;

use wasmtrace_sdk::{Span, add_attributes, attrs, try_with_span, with_span};

/// The order priced when the plugin is invoked with an empty input.
const DEFAULT_ORDER: &str = "widget:2, gadget:1, gizmo:3";

/// The catalogue: SKU and unit price in cents.
const CATALOGUE: &[(&str, i64)] = &[
    ("widget", 250),
    ("gadget", 1299),
    ("gizmo", 499),
    ("sprocket", 75),
];

/// The largest quantity accepted on one order line.
const MAX_QUANTITY: i64 = 1000;

/// Why an order was rejected.
#[derive(Debug)]
struct ValidationError(String);

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValidationError {}

/// One validated order line.
struct Line {
    sku: &'static str,
    unit_cents: i64,
    quantity: i64,
}

fn handle(input: String) -> Result<String, String> {
    let defaulted = input.trim().is_empty();
    let order = if defaulted {
        DEFAULT_ORDER.to_owned()
    } else {
        input
    };

    let request = Span::builder("handle_request")
        .attributes(attrs! {
            "request_id" => request_id(&order),
            "request.size" => order.len(),
            "request.defaulted" => defaulted,
        })
        .start();
    let result = serve(&order);
    if let Err(message) = &result {
        // The failing step recorded the exception; mark the request failed too.
        request.set_error(message);
    }
    result
}

/// The three steps of the request, each a child span of `handle_request`.
fn serve(order: &str) -> Result<String, String> {
    let line_count = order.split(',').filter(|l| !l.trim().is_empty()).count();
    let lines = try_with_span(
        "validate_request",
        attrs! { "validation.lines" => line_count },
        || validate(order),
    )
    .map_err(|e| format!("invalid request: {e}"))?;

    let total_cents = with_span("process_business_logic", attrs! {}, || process(&lines));

    let response = with_span("send_response", attrs! {}, || {
        let response = format!(
            "order of {} line(s): {}; total {}",
            lines.len(),
            lines
                .iter()
                .map(|l| format!("{} x{} @ {}", l.sku, l.quantity, money(l.unit_cents)))
                .collect::<Vec<_>>()
                .join(", "),
            money(total_cents)
        );
        add_attributes(attrs! { "response.size" => response.len() });
        response
    });
    Ok(response)
}

fn validate(order: &str) -> Result<Vec<Line>, ValidationError> {
    let mut lines = Vec::new();
    for raw in order.split(',').map(str::trim).filter(|l| !l.is_empty()) {
        let (sku, quantity) = raw
            .split_once(':')
            .ok_or_else(|| ValidationError(format!("`{raw}` is not of the form sku:quantity")))?;
        let (sku, unit_cents) = CATALOGUE
            .iter()
            .copied()
            .find(|(name, _)| *name == sku.trim())
            .ok_or_else(|| ValidationError(format!("unknown SKU `{}`", sku.trim())))?;
        let quantity = quantity
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|q| (1..=MAX_QUANTITY).contains(q))
            .ok_or_else(|| {
                ValidationError(format!(
                    "quantity `{}` of `{sku}` is not an integer from 1 to {MAX_QUANTITY}",
                    quantity.trim()
                ))
            })?;
        lines.push(Line {
            sku,
            unit_cents,
            quantity,
        });
    }
    if lines.is_empty() {
        return Err(ValidationError("the order has no lines".to_owned()));
    }
    Ok(lines)
}

/// Prices the order; reports what it did on the current span
/// (`process_business_logic`), as the guide's `add_attributes` does.
fn process(lines: &[Line]) -> i64 {
    let units: i64 = lines.iter().map(|l| l.quantity).sum();
    let total_cents: i64 = lines.iter().map(|l| l.quantity * l.unit_cents).sum();
    add_attributes(attrs! {
        "items_processed" => lines.len(),
        "processing_status" => "success",
        "order.units" => units,
        "order.total_cents" => total_cents,
    });
    total_cents
}

/// A stable id for the request: `req-` and the FNV-1a hash of its body.
fn request_id(body: &str) -> String {
    let hash = body.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("req-{hash:08x}")
}

fn money(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

wasmtrace_sdk::plugin!(handle);
