# Raw bindings (componentize-py): nested spans with an attribute of every type.
from wit_world import exports
from wit_world.imports import tracing
from wit_world.imports.types import (KeyValue, Value_Bool, Value_BoolArray, Value_F64, Value_F64Array,
                                     Value_S64, Value_S64Array, Value_String, Value_StringArray)

ATTRIBUTES = [
    KeyValue("s", Value_String("text")), KeyValue("b", Value_Bool(True)),
    KeyValue("i", Value_S64(-(2**63))), KeyValue("f", Value_F64(1.5)),
    KeyValue("sa", Value_StringArray(["a", "b"])), KeyValue("ba", Value_BoolArray([True, False])),
    KeyValue("ia", Value_S64Array([1, 2**63 - 1])), KeyValue("fa", Value_F64Array([0.5, 2.5])),
]

class Handler(exports.Handler):
    def handle(self, input: str) -> str:
        outer = tracing.start(0, "outer", tracing.SpanKind.SERVER, ATTRIBUTES, [], True)
        inner = tracing.start(outer, "inner", tracing.SpanKind.INTERNAL, [KeyValue("n", Value_S64(1))], [], False)
        tracing.end(inner)
        tracing.end(outer)
        return "raw:" + input
