// Types of the wasmtrace JavaScript SDK (src/index.js).

/** A context handle held by the host: a span's, an extracted one, or a fixed one. */
export type ContextHandle = number;
/** Anything that names a context: a handle or a `Span`. */
export type ContextLike = ContextHandle | Span;

/** The invocation's context. */
export const INVOCATION: 0;
/** The empty context: spans started under it begin a new trace. */
export const EMPTY: 1;

/** A floating-point measurement or attribute, even when integral. */
export class Float {
  constructor(value: number);
  readonly value: number;
}
/** Marks a number (or each number of an array) as floating-point. */
export function float(value: number): Float;
export function float(value: number[]): Float[];

/**
 * An attribute value. Integral numbers and bigints are recorded as 64-bit
 * integers, other numbers as doubles (`float(n)` forces a double); arrays
 * take the type of their elements. `null`/`undefined` drop the attribute;
 * anything else is recorded as `String(value)`.
 */
export type AttributeValue =
  | string
  | boolean
  | number
  | bigint
  | Float
  | string[]
  | boolean[]
  | (number | bigint | Float)[]
  | null
  | undefined;
export type Attributes = Record<string, AttributeValue> | Array<[string, AttributeValue]>;

export type SpanKind = 'internal' | 'server' | 'client' | 'producer' | 'consumer';
export type StatusCode = 'ok' | 'unset' | 'error';

/** W3C identity of a span (all-zero ids when there is none). */
export interface SpanContext {
  traceId: string;
  spanId: string;
  traceFlags: { sampled?: boolean; random?: boolean };
  traceState: string;
  isRemote: boolean;
}

export interface Link {
  /** The linked span, or pass `spanContext` directly. */
  context?: ContextLike;
  spanContext?: SpanContext;
  attributes?: Attributes;
}

export interface SpanOptions {
  /** The parent; default the current context. */
  parent?: ContextLike;
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  /** Whether outbound wasi:http requests nest under it while it is open. */
  activate?: boolean;
}

export class Span {
  /** The host's handle: also this span's context. */
  readonly handle: ContextHandle;
  readonly ended: boolean;
  setAttributes(attributes: Attributes): this;
  setAttribute(key: string, value: AttributeValue): this;
  addEvent(name: string, attributes?: Attributes): this;
  setStatus(code: StatusCode, description?: string): this;
  /** An `exception` event (semantic conventions) and, by default, status Error. */
  recordException(error: unknown, options?: { setStatus?: boolean }): this;
  updateName(name: string): this;
  isRecording(): boolean;
  spanContext(): SpanContext;
  /** A child span of this one (for use after an `await`). */
  withSpan<T>(name: string, fn: (span: Span) => T): T;
  withSpan<T>(name: string, options: Omit<SpanOptions, 'parent'>, fn: (span: Span) => T): T;
  /** Runs `fn` with this span current (for use after an `await`). */
  run<T>(fn: (span: Span) => T): T;
  end(): void;
}

/** The current context's handle. */
export function currentContext(): ContextHandle;
/** Runs `fn` with `context` current; for async `fn`, until its first `await`. */
export function withContext<T>(context: ContextLike, fn: (context: ContextLike) => T): T;
/** A span that is not made current; end it yourself. */
export function startSpan(name: string, options?: SpanOptions): Span;
/**
 * Runs `fn(span)` in a new span, current while `fn` runs synchronously; ends
 * it when `fn` returns or its promise settles; records a thrown or rejected
 * error (exception event, status Error) and rethrows it.
 */
export function withSpan<T>(name: string, fn: (span: Span) => T): T;
export function withSpan<T>(name: string, options: SpanOptions, fn: (span: Span) => T): T;
export function addAttributes(attributes: Attributes): void;
export function recordEvent(name: string, attributes?: Attributes): void;
export function setStatus(code: StatusCode, description?: string): void;
export function recordException(error: unknown, options?: { setStatus?: boolean }): void;
export function currentSpanContext(): SpanContext;
export function isRecording(): boolean;

/** Headers as an object, a `Headers`/`Map`, or `[name, value]` pairs. */
export type Carrier =
  | Record<string, string | string[]>
  | Array<[string, string]>
  | { entries(): Iterable<[string, string]> };

/** The current context as headers (`traceparent`, `tracestate`, `baggage`). */
export function propagateContext(): Record<string, string>;
/** The current context's trace headers as pairs. */
export function traceHeaders(): Array<[string, string]>;
/** Runs `fn` in the context carried by `headers`. */
export function withPropagatedContext<T>(headers: Carrier, fn: (context: ContextHandle) => T): T;
export function baggage(): Record<string, string>;
export function baggageItem(name: string): string | undefined;
export function withBaggage<T>(entries: Record<string, string> | Array<[string, string]>, fn: (context: ContextHandle) => T): T;

export const cache: {
  get(key: string): Uint8Array | undefined;
  getString(key: string): string | undefined;
  put(key: string, value: string | Uint8Array | ArrayLike<number>, options?: { ttlMs?: number }): void;
  delete(key: string): boolean;
};

export class PluginCallError extends Error {
  readonly kind: 'failed' | 'unknown-plugin' | 'crashed' | 'refused';
}
export const plugins: {
  call(plugin: string, input: string): string;
};

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
type LogFn = (message: string | Error | AttributeValue | object, attributes?: Attributes) => void;
export const log: {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  event(name: string, attributes?: Attributes, level?: LogLevel): void;
  enabled(level: LogLevel): boolean;
};
/** Routes `console.*` to host log records; returns a function undoing it. */
export function bridgeConsole(): () => void;

export interface InstrumentOptions {
  unit?: string;
  description?: string;
  float?: boolean;
  /** Histograms only: explicit bucket boundaries. */
  boundaries?: number[];
}
export type Measurement = number | bigint | Float;
declare class Instrument {
  readonly valid: boolean;
}
export class Counter extends Instrument {
  add(value: Measurement, attributes?: Attributes): void;
}
export class UpDownCounter extends Instrument {
  add(value: Measurement, attributes?: Attributes): void;
}
export class Histogram extends Instrument {
  record(value: Measurement, attributes?: Attributes): void;
}
export class Gauge extends Instrument {
  record(value: Measurement, attributes?: Attributes): void;
}
export const metrics: {
  counter(name: string, options?: InstrumentOptions): Counter;
  upDownCounter(name: string, options?: InstrumentOptions): UpDownCounter;
  histogram(name: string, options?: InstrumentOptions): Histogram;
  gauge(name: string, options?: InstrumentOptions): Gauge;
};

/** The `handler` export of the `wasmtrace:plugin/plugin` world. */
export function handler(fn: (input: string) => string | void | Promise<string | void>): {
  handle(input: string): Promise<string>;
};
