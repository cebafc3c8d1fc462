//! Raw bindings (wit-bindgen): nested spans with an attribute of every type.
use wasmtrace_sdk::wit::exports::wasmtrace::plugin::handler::Guest;
use wasmtrace_sdk::wit::wasmtrace::telemetry::tracing::{SpanKind, end, start};
use wasmtrace_sdk::wit::wasmtrace::telemetry::types::{KeyValue, Value};

#[rustfmt::skip]
const ATTRIBUTES: &[KeyValue] = &[
    KeyValue { key: "s", value: Value::String("text") }, KeyValue { key: "b", value: Value::Bool(true) },
    KeyValue { key: "i", value: Value::S64(i64::MIN) }, KeyValue { key: "f", value: Value::F64(1.5) },
    KeyValue { key: "sa", value: Value::StringArray(&["a", "b"]) }, KeyValue { key: "ba", value: Value::BoolArray(&[true, false]) },
    KeyValue { key: "ia", value: Value::S64Array(&[1, i64::MAX]) }, KeyValue { key: "fa", value: Value::F64Array(&[0.5, 2.5]) },
];

struct Raw;

impl Guest for Raw {
    fn handle(input: String) -> Result<String, String> {
        let outer = start(0, "outer", SpanKind::Server, ATTRIBUTES, &[], true);
        let n = [KeyValue {
            key: "n",
            value: Value::S64(1),
        }];
        let inner = start(outer, "inner", SpanKind::Internal, &n, &[], false);
        end(inner);
        end(outer);
        Ok(format!("raw:{input}"))
    }
}

wasmtrace_sdk::wit::export!(Raw with_types_in wasmtrace_sdk::wit);
