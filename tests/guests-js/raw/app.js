// Raw bindings (componentize-js): nested spans with an attribute of every type.
import { start, end } from 'wasmtrace:telemetry/tracing@0.2.0';

const ATTRIBUTES = [
  { key: 's', value: { tag: 'string', val: 'text' } }, { key: 'b', value: { tag: 'bool', val: true } },
  { key: 'i', value: { tag: 's64', val: -(2n ** 63n) } }, { key: 'f', value: { tag: 'f64', val: 1.5 } },
  { key: 'sa', value: { tag: 'string-array', val: ['a', 'b'] } }, { key: 'ba', value: { tag: 'bool-array', val: [true, false] } },
  { key: 'ia', value: { tag: 's64-array', val: [1n, 2n ** 63n - 1n] } }, { key: 'fa', value: { tag: 'f64-array', val: [0.5, 2.5] } },
];

export const handler = {
  handle(input) {
    const outer = start(0, 'outer', 'server', ATTRIBUTES, [], true);
    const inner = start(outer, 'inner', 'internal', [{ key: 'n', value: { tag: 's64', val: 1n } }], [], false);
    end(inner);
    end(outer);
    return 'raw:' + input;
  },
};
