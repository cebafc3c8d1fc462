// The JavaScript SDK's test guest (tests/all/sdk_js.rs): one scenario per
// input, each exercising part of the SDK; the output is what the test
// checks besides the spans.
import {
  baggage, bridgeConsole, cache, currentSpanContext, float, handler as makeHandler, log, plugins,
  propagateContext, recordEvent, traceHeaders, withBaggage, withPropagatedContext, withSpan,
} from 'wasmtrace-sdk';

/** Lets the other tasks run: resolves on a later turn of the microtask queue. */
const tick = () => new Promise((resolve) => queueMicrotask(resolve));

class ValidationError extends Error {}

/// Two tasks in one invocation, interleaved at every await: each opens its
/// span, and child spans opened after an await go through the span it was
/// given (the documented idiom), implicit nesting inside synchronous parts.
async function task(name, order) {
  return withSpan(`task ${name}`, { attributes: { task: name } }, async (span) => {
    order.push(`${name} start`);
    await tick();
    order.push(`${name} after first await`);
    span.withSpan('step 1', () => withSpan('leaf', () => recordEvent('leaf.done', { task: name })));
    await tick();
    await span.withSpan('step 2', async (step) => {
      await tick();
      step.withSpan('leaf', () => {});
    });
    order.push(`${name} end`);
    return name;
  });
}

const scenarios = {
  // An attribute of every type, converted from plain JS values.
  types() {
    return withSpan('typed', {
      kind: 'server',
      attributes: {
        s: 'text', b: true, i: 42, big: -(2n ** 63n), f: 1.5, forced: float(2),
        sa: ['a', 'b'], ba: [true, false], ia: [1, 2], bia: [1n, 2n ** 63n - 1n], fa: [0.5, 2.5],
        mixed: [1, 2.5], skipped: undefined,
      },
    }, (span) => {
      span.addEvent('typed.event', { n: 7, ratio: 0.25 });
      return withSpan('child', () => 'typed');
    });
  },

  // An exception thrown two spans deep: recorded once, on the span it was
  // thrown in, with status Error on both and on the invocation.
  throw() {
    return withSpan('outer', () => withSpan('inner', () => {
      throw new ValidationError('input rejected');
    }));
  },

  async reject() {
    return withSpan('async outer', async () => {
      await tick();
      throw new TypeError('rejected later');
    });
  },

  async concurrent() {
    const order = [];
    const done = await withSpan('concurrent', () => Promise.all([task('a', order), task('b', order)]));
    return `${done.join(',')}: ${order.join('; ')}`;
  },

  propagation() {
    return withSpan('propagation', () => {
      const own = currentSpanContext();
      const headers = withBaggage({ tenant: 'acme' }, () => ({ ...propagateContext(), seen: baggage().tenant }));
      const remote = withPropagatedContext(
        { TraceParent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
        () => withSpan('continued', () => currentSpanContext().traceId),
      );
      return JSON.stringify({ own: own.spanId, headers, pairs: traceHeaders().length, remote });
    });
  },

  cache() {
    return withSpan('cached', () => {
      const before = cache.getString('k');
      cache.put('k', 'v1');
      const after = cache.getString('k');
      const removed = cache.delete('k');
      return `${before}|${after}|${removed}|${cache.get('k')}`;
    });
  },

  // Log records: the SDK's `log`, and `console.*` through the bridge.
  logs() {
    return withSpan('logging', () => {
      log.info('hello world', { n: 3 });
      const restore = bridgeConsole();
      try {
        console.log('from', 'console', 7);
        console.error('it failed:', new RangeError('boom'));
      } finally {
        restore();
      }
      log.warn('direct', { code: 7 });
      return 'logged';
    });
  },

  call() {
    try {
      return plugins.call('no-such-plugin', 'x');
    } catch (e) {
      return `${e.name}:${e.kind}`;
    }
  },
};

export const handler = makeHandler((input) => {
  const scenario = scenarios[input];
  if (!scenario) throw new Error(`no scenario ${input}`);
  return scenario();
});
