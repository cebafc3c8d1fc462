// The JavaScript SDK of wasmtrace plugins: spans, events, logs, metrics,
// context propagation, the host's cache and plugin calls, over the
// wasmtrace WIT (0.2), for components built with componentize-js.
//
// The host owns every span and context; this module only keeps which one is
// *current* for this plugin's code (see "Current context" in README.md):
// StarlingMonkey has no AsyncLocalStorage or AsyncContext, so the implicit
// current context is set synchronously by `withSpan` and friends and
// restored when their callback returns. Async callbacks get their span as an
// argument and use it (or `withContext`) after an `await`.

import * as tracing from 'wasmtrace:telemetry/tracing@0.2.0';
import * as propagation from 'wasmtrace:telemetry/propagation@0.2.0';
import * as logs from 'wasmtrace:telemetry/logs@0.2.0';
import * as metricsWit from 'wasmtrace:telemetry/metrics@0.2.0';
import * as cacheWit from 'wasmtrace:plugin/cache@0.2.0';
import * as calls from 'wasmtrace:plugin/calls@0.2.0';

/** The invocation's context (the host's span for this invocation). */
export const INVOCATION = 0;
/** The empty context: spans started under it begin a new trace. */
export const EMPTY = 1;

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

// ---------------------------------------------------------------------------
// Values

/** A number recorded as a floating-point value even when it is integral. */
export class Float {
  constructor(value) {
    this.value = Number(value);
  }
}

/** Marks `value` (a number or an array of numbers) as floating-point. */
export function float(value) {
  return Array.isArray(value) ? value.map((v) => new Float(v)) : new Float(value);
}

function isIntegral(n) {
  return Number.isInteger(n) && n >= -(2 ** 63) && n < 2 ** 63;
}

function toBigInt(v) {
  if (v < I64_MIN || v > I64_MAX) throw new RangeError(`${v} does not fit in a 64-bit signed integer`);
  return v;
}

/// One attribute value as the WIT `value` variant, or undefined to drop it.
function toValue(v) {
  switch (typeof v) {
    case 'string':
      return { tag: 'string', val: v };
    case 'boolean':
      return { tag: 'bool', val: v };
    case 'bigint':
      return { tag: 's64', val: toBigInt(v) };
    case 'number':
      // Integral numbers are OpenTelemetry integers (s64), others doubles;
      // `float(1)` forces a double.
      return isIntegral(v) ? { tag: 's64', val: BigInt(v) } : { tag: 'f64', val: v };
    case 'undefined':
      return undefined;
    default:
      if (v === null) return undefined;
      if (v instanceof Float) return { tag: 'f64', val: v.value };
      if (Array.isArray(v)) return toArray(v);
      return { tag: 'string', val: String(v) };
  }
}

/// An array as the WIT array variant its elements call for.
function toArray(items) {
  if (items.length === 0) return { tag: 'string-array', val: [] };
  if (items.every((x) => typeof x === 'string')) return { tag: 'string-array', val: items };
  if (items.every((x) => typeof x === 'boolean')) return { tag: 'bool-array', val: items };
  const numeric = (x) => typeof x === 'number' || typeof x === 'bigint' || x instanceof Float;
  if (items.every(numeric)) {
    if (items.every((x) => typeof x === 'bigint' || (typeof x === 'number' && isIntegral(x)))) {
      return { tag: 's64-array', val: items.map((x) => toBigInt(BigInt(x))) };
    }
    return { tag: 'f64-array', val: items.map((x) => (x instanceof Float ? x.value : Number(x))) };
  }
  // OpenTelemetry arrays are homogeneous: anything mixed becomes strings.
  return { tag: 'string-array', val: items.map(String) };
}

/// `{ key: value }` (or `[key, value]` pairs) as a WIT `list<key-value>`.
function toAttributes(attributes) {
  if (!attributes) return [];
  const entries = Array.isArray(attributes) ? attributes : Object.entries(attributes);
  const out = [];
  for (const [key, v] of entries) {
    const value = toValue(v);
    if (value !== undefined) out.push({ key: String(key), value });
  }
  return out;
}

function toNumber(v) {
  if (typeof v === 'bigint') return { tag: 's64', val: toBigInt(v) };
  if (v instanceof Float) return { tag: 'f64', val: v.value };
  return isIntegral(v) ? { tag: 's64', val: BigInt(v) } : { tag: 'f64', val: Number(v) };
}

// ---------------------------------------------------------------------------
// Current context

let current = INVOCATION;

/** The current context handle (a span's, an extracted one, or `INVOCATION`). */
export function currentContext() {
  return current;
}

function isThenable(x) {
  return x !== null && (typeof x === 'object' || typeof x === 'function') && typeof x.then === 'function';
}

/// Runs `fn(arg)` with `context` current, restoring the previous context
/// when `fn` returns (for an async `fn`: at its first `await`), then calls
/// `settle(error, value)` once the result (or its promise) settles.
/// Returns what `fn` returns.
function runIn(context, fn, arg, settle) {
  const previous = current;
  current = context;
  let result;
  try {
    result = fn(arg);
  } catch (e) {
    current = previous;
    settle(e, undefined, true);
    throw e;
  }
  current = previous;
  if (isThenable(result)) {
    return result.then(
      (value) => {
        settle(undefined, value, false);
        return value;
      },
      (e) => {
        settle(e, undefined, true);
        throw e;
      },
    );
  }
  settle(undefined, result, false);
  return result;
}

/**
 * Runs `fn(context)` with `context` current (and the host's current context
 * for outbound wasi:http requests while `fn` runs synchronously). Use it to
 * re-enter a span after an `await`: `withContext(span, () => ...)`.
 */
export function withContext(context, fn) {
  const handle = handleOf(context);
  propagation.attach(handle);
  let attached = true;
  const detach = () => {
    if (attached) propagation.detach(handle);
    attached = false;
  };
  const previous = current;
  current = handle;
  try {
    const result = fn(context);
    if (isThenable(result)) {
      // The host's current context must not leak into other tasks that run
      // while this one awaits: it is detached at the first await.
      detach();
    }
    return result;
  } finally {
    current = previous;
    detach();
  }
}

function handleOf(context) {
  if (context instanceof Span) return context.handle;
  if (typeof context === 'number') return context;
  if (context && typeof context.handle === 'number') return context.handle;
  throw new TypeError(`not a context: ${context}`);
}

// ---------------------------------------------------------------------------
// Spans

const KINDS = ['internal', 'server', 'client', 'producer', 'consumer'];

/** A span of this plugin: its handle is also a context. */
export class Span {
  constructor(handle) {
    this.handle = handle;
    this.ended = false;
  }

  /** Sets attributes (a later value for a key replaces an earlier one). */
  setAttributes(attributes) {
    const list = toAttributes(attributes);
    if (list.length) tracing.setAttributes(this.handle, list);
    return this;
  }

  /** Sets one attribute. */
  setAttribute(key, value) {
    return this.setAttributes([[key, value]]);
  }

  /** Adds an event now. */
  addEvent(name, attributes) {
    tracing.addEvent(this.handle, name, toAttributes(attributes));
    return this;
  }

  /** `'ok'`, `'unset'`, or `'error'` with a description. */
  setStatus(code, description = '') {
    tracing.setStatus(this.handle, statusOf(code, description));
    return this;
  }

  /**
   * Records `error` as an `exception` event (`exception.type`,
   * `exception.message`, `exception.stacktrace`) and sets status Error.
   */
  recordException(error, { setStatus = true } = {}) {
    const { type, message, stack } = describeError(error);
    tracing.recordException(this.handle, type, message, stack);
    if (setStatus) tracing.setStatus(this.handle, { tag: 'error', val: message });
    return this;
  }

  /** Renames the span. */
  updateName(name) {
    tracing.updateName(this.handle, name);
    return this;
  }

  /** Whether the span records (false when unsampled or ended). */
  isRecording() {
    return !this.ended && tracing.isRecording(this.handle);
  }

  /** The span's W3C identity: `{ traceId, spanId, traceFlags, traceState, isRemote }`. */
  spanContext() {
    return propagation.spanContextOf(this.handle);
  }

  /** Starts a child span: `withSpan` with this span as the parent. */
  withSpan(name, options, fn) {
    if (typeof options === 'function') return withSpan(name, { parent: this }, options);
    return withSpan(name, { ...options, parent: this }, fn);
  }

  /** Runs `fn(span)` with this span current (see `withContext`). */
  run(fn) {
    return withContext(this, fn);
  }

  /** Ends the span; ending twice does nothing. */
  end() {
    if (!this.ended) tracing.end(this.handle);
    this.ended = true;
  }
}

function statusOf(code, description) {
  switch (code) {
    case 'ok':
      return { tag: 'ok' };
    case 'unset':
      return { tag: 'unset' };
    case 'error':
      return { tag: 'error', val: String(description ?? '') };
    default:
      throw new TypeError(`status is 'ok', 'unset' or 'error', not ${code}`);
  }
}

/// The semantic conventions' view of a thrown value.
function describeError(error) {
  if (error instanceof Error) {
    const type = error.name && error.name !== 'Error' ? error.name : error.constructor?.name || 'Error';
    // SpiderMonkey's `stack` lists frames only; the message goes first as
    // in V8 so that the stacktrace reads on its own.
    const stack = error.stack ? `${type}: ${error.message}\n${error.stack}`.trimEnd() : undefined;
    return { type, message: error.message, stack };
  }
  const type = error === null ? 'null' : error?.constructor?.name ?? typeof error;
  return { type, message: String(error), stack: undefined };
}

/**
 * Starts a span, for `try`/`finally` code: `const span = startSpan('x');
 * try { ... } finally { span.end(); }`. It does not become current; prefer
 * `withSpan`. Options: `parent` (a context or span; default the current
 * context), `kind`, `attributes`, `links` (`[{ context, attributes }]`),
 * `activate` (the host's current context until it ends, for outbound
 * wasi:http requests; default false here).
 */
export function startSpan(name, options = {}) {
  const kind = options.kind ?? 'internal';
  if (!KINDS.includes(kind)) throw new TypeError(`unknown span kind ${kind}`);
  const parent = options.parent === undefined ? current : handleOf(options.parent);
  const links = (options.links ?? []).map((link) => ({
    spanContext: link.spanContext ?? propagation.spanContextOf(handleOf(link.context)),
    attributes: toAttributes(link.attributes),
  }));
  const handle = tracing.start(parent, name, kind, toAttributes(options.attributes), links, options.activate ?? false);
  return new Span(handle);
}

/**
 * Runs `fn(span)` in a new span that is current while `fn` runs
 * synchronously, and ends it when `fn` returns or, for an async `fn`, when
 * its promise settles. A thrown or rejected error is recorded on the span
 * (an `exception` event, status Error) and rethrown.
 *
 *   withSpan(name, fn)
 *   withSpan(name, { attributes, kind, parent, links, activate }, fn)
 */
export function withSpan(name, options, fn) {
  if (typeof options === 'function') {
    fn = options;
    options = {};
  }
  // Activated for the host too, so outbound wasi:http requests nest under
  // it (as the Rust SDK does); `{ activate: false }` opts out.
  const span = startSpan(name, { activate: true, ...options });
  return runIn(span.handle, fn, span, (error, _value, failed) => {
    if (failed) {
      // The exception event goes on the innermost span it escaped from;
      // the spans it then passes through get status Error only.
      if (isObject(error) && recorded.has(error)) {
        span.setStatus('error', describeError(error).message);
      } else {
        span.recordException(error);
        if (isObject(error)) recorded.add(error);
      }
    }
    span.end();
  });
}

const recorded = new WeakSet();

function isObject(x) {
  return x !== null && (typeof x === 'object' || typeof x === 'function');
}

function currentSpan() {
  return new Span(current);
}

/** Sets attributes on the current span. */
export function addAttributes(attributes) {
  currentSpan().setAttributes(attributes);
}

/** Adds an event to the current span. */
export function recordEvent(name, attributes) {
  currentSpan().addEvent(name, attributes);
}

/** Sets the current span's status: `'ok'`, `'unset'` or `'error'` with a description. */
export function setStatus(code, description) {
  currentSpan().setStatus(code, description);
}

/** Records `error` on the current span (an `exception` event, status Error). */
export function recordException(error, options) {
  currentSpan().recordException(error, options);
}

/** The current span's W3C identity. */
export function currentSpanContext() {
  return propagation.spanContextOf(current);
}

/** Whether the current span records. */
export function isRecording() {
  return tracing.isRecording(current);
}

// ---------------------------------------------------------------------------
// Propagation and baggage

/** The current context as a carrier `{ traceparent, tracestate?, baggage? }`. */
export function propagateContext() {
  const headers = {};
  for (const [k, v] of propagation.inject(current)) headers[k] = v;
  return headers;
}

/** The current context's trace headers as `[name, value]` pairs. */
export function traceHeaders() {
  return propagation.inject(current);
}

function toCarrier(headers) {
  if (!headers) return [];
  if (typeof headers.entries === 'function' && !Array.isArray(headers)) {
    return [...headers.entries()].map(([k, v]) => [String(k), String(v)]);
  }
  const entries = Array.isArray(headers) ? headers : Object.entries(headers);
  const out = [];
  for (const [k, v] of entries) {
    for (const value of Array.isArray(v) ? v : [v]) out.push([String(k), String(value)]);
  }
  return out;
}

/// Runs `fn` in a context the host made for us, releasing it once `fn`
/// (or its promise) settles.
function runOwned(handle, fn) {
  return runIn(
    handle,
    (arg) => {
      propagation.attach(handle);
      try {
        return fn(arg);
      } finally {
        propagation.detach(handle);
      }
    },
    handle,
    () => propagation.release(handle),
  );
}

/**
 * Runs `fn(context)` in the context carried by `headers` (an object, a
 * `Headers`, or `[name, value]` pairs): spans started inside continue that
 * trace. A missing or malformed `traceparent` starts a new trace.
 */
export function withPropagatedContext(headers, fn) {
  return runOwned(propagation.extract(toCarrier(headers)), fn);
}

/** The current context's W3C Baggage as `{ name: value }`. */
export function baggage() {
  return Object.fromEntries(propagation.baggage(current));
}

/** One baggage entry of the current context, or undefined. */
export function baggageItem(name) {
  return baggage()[name];
}

/** Runs `fn(context)` with `entries` (`{ name: value }`) added to the current baggage. */
export function withBaggage(entries, fn) {
  const pairs = toCarrier(entries);
  return runOwned(propagation.withBaggage(current, pairs), fn);
}

// ---------------------------------------------------------------------------
// Cache and plugin calls

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The host's key/value cache for this plugin (each call is a host span). */
export const cache = {
  /** The bytes stored under `key` (a Uint8Array), or undefined. */
  get(key) {
    return cacheWit.get(current, key) ?? undefined;
  },
  /** The UTF-8 string stored under `key`, or undefined. */
  getString(key) {
    const bytes = cacheWit.get(current, key);
    return bytes === undefined || bytes === null ? undefined : decoder.decode(bytes);
  },
  /** Stores `value` (a string or bytes); `{ ttlMs }` makes it expire. */
  put(key, value, { ttlMs } = {}) {
    const bytes = typeof value === 'string' ? encoder.encode(value) : new Uint8Array(value);
    cacheWit.put(current, key, bytes, ttlMs);
  },
  /** Removes `key`; whether it was there. */
  delete(key) {
    return cacheWit.delete(current, key);
  },
};

/** Why `plugins.call` did not return the callee's output. */
export class PluginCallError extends Error {
  constructor(kind, message) {
    super(message);
    this.name = 'PluginCallError';
    /** `'failed'`, `'unknown-plugin'`, `'crashed'` or `'refused'`. */
    this.kind = kind;
  }
}

/** Calling other plugins loaded in the same runtime. */
export const plugins = {
  /**
   * Invokes `plugin` with `input`; its spans join this trace under the
   * current span. Throws a `PluginCallError` when it does not return output.
   */
  call(plugin, input) {
    try {
      return calls.call(current, plugin, input);
    } catch (e) {
      const err = e?.payload;
      if (!err || typeof err.tag !== 'string') throw e;
      const message =
        err.tag === 'unknown-plugin' ? `no plugin named ${plugin} is loaded` : `${plugin}: ${err.tag}: ${err.val}`;
      throw new PluginCallError(err.tag, message);
    }
  },
};

// ---------------------------------------------------------------------------
// Logs

const SEVERITIES = { trace: 1, debug: 5, info: 9, warn: 13, error: 17, fatal: 21 };

function emitLog(level, message, attributes, options = {}) {
  const severityNumber = SEVERITIES[level];
  if (!logs.enabled(severityNumber)) return;
  let body;
  if (message instanceof Error) {
    const { type, message: text, stack } = describeError(message);
    attributes = { 'exception.type': type, 'exception.message': text, 'exception.stacktrace': stack, ...attributes };
    body = { tag: 'string', val: text };
  } else if (message !== undefined) {
    body = toValue(typeof message === 'object' && !Array.isArray(message) ? JSON.stringify(message) : message);
  }
  logs.emit(options.context === undefined ? current : handleOf(options.context), {
    severityNumber,
    severityText: level.toUpperCase(),
    body,
    attributes: toAttributes(attributes),
    eventName: options.eventName,
  });
}

/**
 * Log records through the host, under the current span:
 * `log.info('message', { key: value })`. `log.event(name, attributes)`
 * emits an OpenTelemetry event record.
 */
export const log = {
  trace: (message, attributes) => emitLog('trace', message, attributes),
  debug: (message, attributes) => emitLog('debug', message, attributes),
  info: (message, attributes) => emitLog('info', message, attributes),
  warn: (message, attributes) => emitLog('warn', message, attributes),
  error: (message, attributes) => emitLog('error', message, attributes),
  fatal: (message, attributes) => emitLog('fatal', message, attributes),
  event: (name, attributes, level = 'info') => emitLog(level, undefined, attributes, { eventName: name }),
  /** Whether a record of `level` would be kept. */
  enabled: (level) => logs.enabled(SEVERITIES[level]),
};

const CONSOLE_LEVELS = { log: 'info', info: 'info', debug: 'debug', trace: 'trace', warn: 'warn', error: 'error' };

/**
 * Sends `console.log/info/debug/trace/warn/error` to the host as log records
 * (the arguments joined with spaces as the body), instead of stdout/stderr.
 * Returns a function that restores the previous console methods.
 */
export function bridgeConsole() {
  const saved = {};
  for (const [method, level] of Object.entries(CONSOLE_LEVELS)) {
    saved[method] = console[method];
    console[method] = (...args) => {
      const error = args.find((a) => a instanceof Error);
      const text = args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? `${a.name}: ${a.message}` : safeJson(a))).join(' ');
      emitLog(level, text, { 'log.source': 'console', ...(error ? exceptionAttributes(error) : {}) });
    };
  }
  return () => Object.assign(console, saved);
}

function exceptionAttributes(error) {
  const { type, message, stack } = describeError(error);
  return { 'exception.type': type, 'exception.message': message, 'exception.stacktrace': stack };
}

function safeJson(v) {
  try {
    return typeof v === 'bigint' ? String(v) : JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

// ---------------------------------------------------------------------------
// Metrics

const INVALID = 0xffffffff;

class Instrument {
  constructor(name, kind, options) {
    this.id = metricsWit.create({
      name,
      kind,
      float: options.float ?? false,
      unit: options.unit ?? '',
      description: options.description ?? '',
      boundaries: options.boundaries,
    });
  }

  /** Whether the host accepted the instrument (name, kind and limits). */
  get valid() {
    return this.id !== INVALID;
  }

  _record(value, attributes) {
    metricsWit.record(this.id, toNumber(value), toAttributes(attributes));
  }
}

/** The sums take measurements with `add`. */
class Sum extends Instrument {
  add(value, attributes) {
    this._record(value, attributes);
  }
}

/** Histograms and gauges take measurements with `record`. */
class Recording extends Instrument {
  record(value, attributes) {
    this._record(value, attributes);
  }
}

/** A monotonic sum. */
export class Counter extends Sum {}

/** A sum that goes up and down. */
export class UpDownCounter extends Sum {}

/** A distribution of measurements. */
export class Histogram extends Recording {}

/** A current value. */
export class Gauge extends Recording {}

const instruments = new Map();

function instrument(Class, kind, name, options = {}) {
  const key = `${kind}\0${name}`;
  let found = instruments.get(key);
  if (!found) {
    found = new Class(name, kind, options);
    instruments.set(key, found);
  }
  return found;
}

/**
 * The plugin's instruments, aggregated by the host. Options: `unit` (UCUM),
 * `description`, `float` (floating-point measurements; default integers,
 * and a non-integral measurement of an integer instrument is dropped), and
 * `boundaries` for histograms.
 */
export const metrics = {
  counter: (name, options) => instrument(Counter, 'counter', name, options),
  upDownCounter: (name, options) => instrument(UpDownCounter, 'up-down-counter', name, options),
  histogram: (name, options) => instrument(Histogram, 'histogram', name, options),
  gauge: (name, options) => instrument(Gauge, 'gauge', name, options),
};

// ---------------------------------------------------------------------------
// The handler export

/**
 * The plugin's `handler` export from `fn(input)` (sync or async, returning a
 * string): `export const handler = wasmtrace.handler(async (input) => ...)`.
 * A thrown error becomes the handler's error result, so the invocation span
 * gets status Error with its message instead of the component trapping.
 */
export function handler(fn) {
  return {
    async handle(input) {
      current = INVOCATION;
      try {
        const output = await fn(input);
        return output === undefined ? '' : String(output);
      } catch (e) {
        // componentize-js turns an object with `payload` into the `err`
        // case; a bare Error would trap the component.
        const { type, message } = describeError(e);
        throw { payload: e instanceof Error && type !== 'Error' ? `${type}: ${message}` : message };
      } finally {
        current = INVOCATION;
      }
    },
  };
}
