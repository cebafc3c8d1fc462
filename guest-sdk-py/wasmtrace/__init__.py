"""The Python SDK of wasmtrace plugins (componentize-py).

Spans, events, logs, metrics, context propagation, the host's cache and
plugin calls, over the wasmtrace WIT (0.2). The host owns every span and
context; this module keeps which one is *current* in a
:class:`contextvars.ContextVar`, so every asyncio task has its own current
span, across ``await``.

    import wasmtrace

    def handle(input: str) -> str:
        with wasmtrace.span("handle_request", attributes={"request.size": len(input)}):
            wasmtrace.record_event("received")
            return input.upper()

    Handler = wasmtrace.handler(handle)   # the export componentize-py looks for
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import heapq
import inspect
import logging
import time
import traceback
from dataclasses import dataclass
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    TypeVar,
    Union,
    overload,
)

try:
    from componentize_py_types import Err
    from wit_world.imports import cache as _cache
    from wit_world.imports import calls as _calls
    from wit_world.imports import logs as _logs
    from wit_world.imports import metrics as _metrics
    from wit_world.imports import propagation as _propagation
    from wit_world.imports import tracing as _tracing

    try:
        # In a world that also imports `wasi:http/types` (the HTTP plugin
        # world) componentize-py qualifies the clashing name.
        from wit_world.imports import wasmtrace_telemetry_types as _types
    except ImportError:
        from wit_world.imports import types as _types
except ImportError:  # pragma: no cover - outside a component, e.g. `python -m wasmtrace.build`
    _IN_COMPONENT = False
else:
    _IN_COMPONENT = True

__all__ = [
    "INVOCATION",
    "EMPTY",
    "AttributeValue",
    "Attributes",
    "Span",
    "span",
    "traced",
    "start_span",
    "current_context",
    "use_context",
    "add_attributes",
    "record_event",
    "set_status",
    "record_exception",
    "current_span_context",
    "is_recording",
    "propagate_context",
    "trace_headers",
    "with_propagated_context",
    "baggage",
    "baggage_item",
    "with_baggage",
    "cache",
    "call_plugin",
    "PluginCallError",
    "log",
    "LoggingHandler",
    "install_logging",
    "metrics",
    "Counter",
    "UpDownCounter",
    "Histogram",
    "Gauge",
    "handler",
    "Handler",
    "EventLoop",
    "run",
]

#: The invocation's context (the host's span for this invocation).
INVOCATION = 0
#: The empty context: spans started under it begin a new trace.
EMPTY = 1

AttributeValue = Union[str, bool, int, float, Sequence[str], Sequence[bool], Sequence[int], Sequence[float], None]
Attributes = Union[Mapping[str, AttributeValue], Iterable[Tuple[str, AttributeValue]]]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

# ---------------------------------------------------------------------------
# Values


def _value(v: Any) -> Optional["_types.Value"]:
    """One attribute value as the WIT ``value`` variant; None drops it."""
    # bool before int: `True` is an int too.
    if v is None:
        return None
    if isinstance(v, bool):
        return _types.Value_Bool(v)
    if isinstance(v, int):
        return _types.Value_S64(v)
    if isinstance(v, float):
        return _types.Value_F64(v)
    if isinstance(v, str):
        return _types.Value_String(v)
    if isinstance(v, (list, tuple)):
        items = list(v)
        if all(isinstance(x, str) for x in items):
            return _types.Value_StringArray(items)
        if all(isinstance(x, bool) for x in items):
            return _types.Value_BoolArray(items)
        if all(isinstance(x, int) and not isinstance(x, bool) for x in items):
            return _types.Value_S64Array(items)
        if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in items):
            return _types.Value_F64Array([float(x) for x in items])
        # OpenTelemetry arrays are homogeneous: anything mixed becomes strings.
        return _types.Value_StringArray([str(x) for x in items])
    return _types.Value_String(str(v))


def _attributes(attributes: Optional[Attributes]) -> List["_types.KeyValue"]:
    if not attributes:
        return []
    items = attributes.items() if isinstance(attributes, Mapping) else attributes
    out = []
    for key, v in items:
        value = _value(v)
        if value is not None:
            out.append(_types.KeyValue(str(key), value))
    return out


def _number(v: Union[int, float]) -> "_metrics.Number":
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"a measurement is an int or a float, not {type(v).__name__}")
    return _metrics.Number_S64(v) if isinstance(v, int) else _metrics.Number_F64(v)


# ---------------------------------------------------------------------------
# Current context

# Each asyncio task runs in a copy of the context it was created in, so
# tasks keep separate current spans and an `await` never loses one.
_current: contextvars.ContextVar[int] = contextvars.ContextVar("wasmtrace.context", default=INVOCATION)

ContextLike = Union[int, "Span"]


def _handle(context: ContextLike) -> int:
    return context.handle if isinstance(context, Span) else int(context)


def current_context() -> int:
    """The current context's handle: the innermost span entered in this task, else the invocation's."""
    return _current.get()


class use_context:
    """``with use_context(ctx):`` makes ``ctx`` (a handle or a span) current,
    for this task and for the host (outbound wasi:http requests)."""

    def __init__(self, context: ContextLike, *, release: bool = False) -> None:
        self.handle = _handle(context)
        self._release = release
        self._token: Optional[contextvars.Token[int]] = None

    def __enter__(self) -> int:
        self._token = _current.set(self.handle)
        _propagation.attach(self.handle)
        return self.handle

    def __exit__(self, *exc: Any) -> None:
        _propagation.detach(self.handle)
        if self._token is not None:
            _current.reset(self._token)
        if self._release:
            _propagation.release(self.handle)


# ---------------------------------------------------------------------------
# Exceptions


def _exception_type(error: BaseException) -> str:
    cls = type(error)
    if cls.__module__ in ("builtins", "__main__"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _describe(error: BaseException) -> Tuple[str, str, str]:
    stack = "".join(traceback.format_exception(type(error), error, error.__traceback__)).rstrip()
    return _exception_type(error), str(error), stack


# The exception event goes on the innermost span an exception escaped from;
# the spans it then passes through get status Error only.
_RECORDED = "__wasmtrace_recorded__"


def _mark(error: BaseException) -> bool:
    """Marks `error` recorded; whether it already was."""
    if getattr(error, _RECORDED, False):
        return True
    try:
        setattr(error, _RECORDED, True)
    except (AttributeError, TypeError):
        pass
    return False


# ---------------------------------------------------------------------------
# Spans

_KINDS = ("internal", "server", "client", "producer", "consumer")


@dataclass(frozen=True)
class SpanContext:
    """A span's W3C identity (all-zero ids when there is none)."""

    trace_id: str
    span_id: str
    sampled: bool
    trace_state: str
    is_remote: bool


def _span_context(handle: int) -> SpanContext:
    sc = _propagation.span_context_of(handle)
    return SpanContext(
        sc.trace_id,
        sc.span_id,
        bool(sc.trace_flags & _types.TraceFlags.SAMPLED),
        sc.trace_state,
        sc.is_remote,
    )


class Span:
    """A span of this plugin; its handle is also a context.

    As a context manager (what :func:`span` returns) it starts on
    ``__enter__``, is current inside the block, records an escaping
    exception and ends on ``__exit__``; it also works with ``async with``.
    """

    def __init__(
        self,
        name: str,
        attributes: Optional[Attributes] = None,
        *,
        kind: str = "internal",
        parent: Optional[ContextLike] = None,
        links: Optional[Sequence[Tuple[ContextLike, Optional[Attributes]]]] = None,
        activate: bool = True,
    ) -> None:
        if kind not in _KINDS:
            raise ValueError(f"unknown span kind {kind!r} (one of {', '.join(_KINDS)})")
        self.name = name
        self._attributes = attributes
        self._kind = kind
        self._parent = parent
        self._links = links or []
        self._activate = activate
        self.handle: int = -1
        self.ended = False
        self._token: Optional[contextvars.Token[int]] = None

    def start(self) -> "Span":
        """Starts the span without making it current (see :func:`start_span`)."""
        parent = _current.get() if self._parent is None else _handle(self._parent)
        links = [
            _tracing.Link(_propagation.span_context_of(_handle(ctx)), _attributes(attrs))
            for ctx, attrs in self._links
        ]
        self.handle = _tracing.start(
            parent,
            self.name,
            _tracing.SpanKind[self._kind.upper()],
            _attributes(self._attributes),
            links,
            self._activate,
        )
        return self

    def __enter__(self) -> "Span":
        self.start()
        self._token = _current.set(self.handle)
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        try:
            if exc is not None and not isinstance(exc, (GeneratorExit, asyncio.CancelledError)):
                if _mark(exc):
                    self.set_status("error", str(exc))
                else:
                    self.record_exception(exc)
        finally:
            if self._token is not None:
                _current.reset(self._token)
                self._token = None
            self.end()

    async def __aenter__(self) -> "Span":
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> None:
        self.__exit__(exc_type, exc, tb)

    def set_attributes(self, attributes: Attributes) -> "Span":
        """Sets attributes (a later value for a key replaces an earlier one)."""
        kvs = _attributes(attributes)
        if kvs:
            _tracing.set_attributes(self.handle, kvs)
        return self

    def set_attribute(self, key: str, value: AttributeValue) -> "Span":
        return self.set_attributes({key: value})

    def add_event(self, name: str, attributes: Optional[Attributes] = None) -> "Span":
        _tracing.add_event(self.handle, name, _attributes(attributes))
        return self

    def set_status(self, code: str, description: str = "") -> "Span":
        """``"ok"``, ``"unset"``, or ``"error"`` with a description."""
        if code == "ok":
            status: Any = _tracing.Status_Ok()
        elif code == "unset":
            status = _tracing.Status_Unset()
        elif code == "error":
            status = _tracing.Status_Error(description)
        else:
            raise ValueError(f"status is 'ok', 'unset' or 'error', not {code!r}")
        _tracing.set_status(self.handle, status)
        return self

    def record_exception(self, error: BaseException, *, set_status: bool = True) -> "Span":
        """An ``exception`` event (``exception.type`` = the class's qualified
        name, ``exception.message``, ``exception.stacktrace``) and, by
        default, status Error."""
        ty, message, stack = _describe(error)
        _tracing.record_exception(self.handle, ty, message, stack)
        if set_status:
            _tracing.set_status(self.handle, _tracing.Status_Error(message))
        return self

    def update_name(self, name: str) -> "Span":
        _tracing.update_name(self.handle, name)
        return self

    def is_recording(self) -> bool:
        return not self.ended and _tracing.is_recording(self.handle)

    def span_context(self) -> SpanContext:
        return _span_context(self.handle)

    def end(self) -> None:
        """Ends the span; ending twice does nothing."""
        if not self.ended and self.handle >= 0:
            _tracing.end(self.handle)
        self.ended = True


def span(
    name: str,
    attributes: Optional[Attributes] = None,
    *,
    kind: str = "internal",
    parent: Optional[ContextLike] = None,
    links: Optional[Sequence[Tuple[ContextLike, Optional[Attributes]]]] = None,
    activate: bool = True,
) -> Span:
    """A span to enter: ``with span("name", attributes={...}) as s:``.

    Its parent is the current context (or ``parent``); inside the block it
    is current in this task. An exception escaping the block is recorded
    (an ``exception`` event, status Error) and propagates. ``activate``
    also makes it the host's current context while open (outbound
    wasi:http requests nest under it).
    """
    return Span(name, attributes, kind=kind, parent=parent, links=links, activate=activate)


def start_span(
    name: str,
    attributes: Optional[Attributes] = None,
    *,
    kind: str = "internal",
    parent: Optional[ContextLike] = None,
    links: Optional[Sequence[Tuple[ContextLike, Optional[Attributes]]]] = None,
) -> Span:
    """Starts a span that is not made current; call ``end()`` yourself."""
    return Span(name, attributes, kind=kind, parent=parent, links=links, activate=False).start()


def _arg_attributes(fn: Callable[..., Any], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Dict[str, Any]:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
    except (TypeError, ValueError):
        return {}
    out: Dict[str, Any] = {}
    for key, v in bound.arguments.items():
        if key in ("self", "cls"):
            continue
        if isinstance(v, (str, bool, int, float)) or (
            isinstance(v, (list, tuple)) and all(isinstance(x, (str, bool, int, float)) for x in v)
        ):
            out[f"code.function.args.{key}"] = v
    return out


@overload
def traced(fn: F) -> F: ...
@overload
def traced(
    name: Optional[str] = None, *, attributes: Optional[Attributes] = None, record_args: bool = False, kind: str = "internal"
) -> Callable[[F], F]: ...
def traced(
    name: Any = None, *, attributes: Optional[Attributes] = None, record_args: bool = False, kind: str = "internal"
) -> Any:
    """Runs each call of the decorated function (sync or ``async``) in a span
    named after it (or ``name``). ``record_args=True`` adds its arguments of
    primitive types as ``code.function.args.<name>`` attributes.

        @traced
        def parse(text): ...

        @traced("fetch_user", record_args=True)
        async def fetch(user_id: int): ...
    """

    def decorate(fn: F) -> F:
        span_name = name if isinstance(name, str) else fn.__qualname__

        def span_for(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Span:
            attrs: Dict[str, Any] = dict(attributes.items() if isinstance(attributes, Mapping) else attributes or [])
            if record_args:
                attrs.update(_arg_attributes(fn, args, kwargs))
            return span(span_name, attrs, kind=kind)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with span_for(args, kwargs):
                    return await fn(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            with span_for(args, kwargs):
                return fn(*args, **kwargs)

        return run  # type: ignore[return-value]

    if callable(name):
        fn, name = name, None
        return decorate(fn)
    return decorate


def _current_span() -> Span:
    s = Span("")
    s.handle = _current.get()
    return s


def add_attributes(attributes: Optional[Attributes] = None, **kwargs: AttributeValue) -> None:
    """Sets attributes on the current span: ``add_attributes({"a.b": 1}, words=3)``."""
    merged: Dict[str, Any] = dict(attributes.items() if isinstance(attributes, Mapping) else attributes or [])
    merged.update(kwargs)
    _current_span().set_attributes(merged)


def record_event(name: str, attributes: Optional[Attributes] = None, **kwargs: AttributeValue) -> None:
    """Adds an event to the current span."""
    merged: Dict[str, Any] = dict(attributes.items() if isinstance(attributes, Mapping) else attributes or [])
    merged.update(kwargs)
    _current_span().add_event(name, merged)


def set_status(code: str, description: str = "") -> None:
    """Sets the current span's status: ``"ok"``, ``"unset"`` or ``"error"``."""
    _current_span().set_status(code, description)


def record_exception(error: BaseException, *, set_status: bool = True) -> None:
    """Records ``error`` on the current span (an ``exception`` event, status Error)."""
    _current_span().record_exception(error, set_status=set_status)


def current_span_context() -> SpanContext:
    """The current span's W3C identity."""
    return _span_context(_current.get())


def is_recording() -> bool:
    """Whether the current span records (skip costly attributes when not)."""
    return _tracing.is_recording(_current.get())


# ---------------------------------------------------------------------------
# Propagation and baggage


def propagate_context() -> Dict[str, str]:
    """The current context as headers (``traceparent``, ``tracestate``, ``baggage``)."""
    return dict(_propagation.inject(_current.get()))


def trace_headers() -> List[Tuple[str, str]]:
    """The current context's trace headers as ``(name, value)`` pairs."""
    return list(_propagation.inject(_current.get()))


def _carrier(headers: Union[Mapping[str, Any], Iterable[Tuple[str, str]]]) -> List[Tuple[str, str]]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    out = []
    for k, v in items:
        for value in v if isinstance(v, (list, tuple)) else [v]:
            out.append((str(k), str(value)))
    return out


def with_propagated_context(headers: Union[Mapping[str, Any], Iterable[Tuple[str, str]]]) -> use_context:
    """``with with_propagated_context(headers):`` continues the trace the
    headers carry (a missing or malformed ``traceparent`` starts a new one)."""
    return use_context(_propagation.extract(_carrier(headers)), release=True)


def baggage() -> Dict[str, str]:
    """The current context's W3C Baggage."""
    return dict(_propagation.baggage(_current.get()))


def baggage_item(name: str) -> Optional[str]:
    return baggage().get(name)


def with_baggage(entries: Union[Mapping[str, str], Iterable[Tuple[str, str]]]) -> use_context:
    """``with with_baggage({"tenant": "acme"}):`` adds baggage entries to the
    current context inside the block (spans and trace headers carry them)."""
    return use_context(_propagation.with_baggage(_current.get(), _carrier(entries)), release=True)


# ---------------------------------------------------------------------------
# Cache and plugin calls


class _Cache:
    """The host's key/value cache for this plugin (each call is a host span)."""

    def get(self, key: str) -> Optional[bytes]:
        return _cache.get(_current.get(), key)

    def get_str(self, key: str) -> Optional[str]:
        value = _cache.get(_current.get(), key)
        return None if value is None else value.decode("utf-8")

    def put(self, key: str, value: Union[str, bytes], ttl_ms: Optional[int] = None) -> None:
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        _cache.put(_current.get(), key, data, ttl_ms)

    def delete(self, key: str) -> bool:
        return _cache.delete(_current.get(), key)


cache = _Cache()


class PluginCallError(Exception):
    """Why :func:`call_plugin` did not return the callee's output; ``kind`` is
    ``failed``, ``unknown-plugin``, ``crashed`` or ``refused``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def call_plugin(plugin: str, input: str) -> str:
    """Invokes another loaded plugin; its spans join this trace under the current span."""
    try:
        return _calls.call(_current.get(), plugin, input)
    except Err as e:
        err = e.value
        if isinstance(err, _calls.CallError_UnknownPlugin):
            raise PluginCallError("unknown-plugin", f"no plugin named {plugin} is loaded") from None
        kind = {
            _calls.CallError_Failed: "failed",
            _calls.CallError_Crashed: "crashed",
            _calls.CallError_Refused: "refused",
        }.get(type(err), "failed")
        raise PluginCallError(kind, f"{plugin}: {kind}: {err.value}") from None


# ---------------------------------------------------------------------------
# Logs

_SEVERITIES = {"trace": 1, "debug": 5, "info": 9, "warn": 13, "error": 17, "fatal": 21}


def _emit(
    severity_number: int,
    severity_text: str,
    message: Any,
    attributes: Optional[Attributes],
    event_name: Optional[str] = None,
    context: Optional[ContextLike] = None,
) -> None:
    if not _logs.enabled(severity_number):
        return
    body = None if message is None else _value(message if isinstance(message, (str, bool, int, float)) else str(message))
    _logs.emit(
        _current.get() if context is None else _handle(context),
        _logs.LogRecord(severity_number, severity_text, body, _attributes(attributes), event_name),
    )


class _Log:
    """Log records through the host, under the current span:
    ``log.info("counted the words", words=3)``."""

    def trace(self, message: Any, **attributes: AttributeValue) -> None:
        _emit(1, "TRACE", message, attributes)

    def debug(self, message: Any, **attributes: AttributeValue) -> None:
        _emit(5, "DEBUG", message, attributes)

    def info(self, message: Any, **attributes: AttributeValue) -> None:
        _emit(9, "INFO", message, attributes)

    def warn(self, message: Any, **attributes: AttributeValue) -> None:
        _emit(13, "WARN", message, attributes)

    warning = warn

    def error(self, message: Any, **attributes: AttributeValue) -> None:
        _emit(17, "ERROR", message, attributes)

    def fatal(self, message: Any, **attributes: AttributeValue) -> None:
        _emit(21, "FATAL", message, attributes)

    def event(self, name: str, level: str = "info", **attributes: AttributeValue) -> None:
        """An OpenTelemetry event record (``EventName``) with attributes."""
        _emit(_SEVERITIES[level], level.upper(), None, attributes, event_name=name)

    def enabled(self, level: str) -> bool:
        return _logs.enabled(_SEVERITIES[level])


log = _Log()


def _severity(levelno: int) -> int:
    # OpenTelemetry's mapping of Python levels: DEBUG 10 -> 5, INFO 20 -> 9,
    # WARNING 30 -> 13, ERROR 40 -> 17, CRITICAL 50 -> 21; a custom level
    # takes the number of the standard one below it.
    if levelno < logging.DEBUG:
        return 1
    if levelno >= logging.CRITICAL:
        return 21
    return 5 + 4 * ((levelno - logging.DEBUG) // 10)


class LoggingHandler(logging.Handler):
    """A :mod:`logging` handler that emits each record through the host,
    under the current span: the message as the body, the logger, the
    source location (``code.*``), ``extra={"attributes": {...}}`` and an
    exception (``exc_info``) as ``exception.*`` attributes."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            attrs: Dict[str, Any] = {
                "logger.name": record.name,
                "code.function.name": record.funcName,
                "code.file.path": record.pathname,
                "code.line.number": record.lineno,
            }
            extra = getattr(record, "attributes", None)
            if isinstance(extra, Mapping):
                attrs.update(extra)
            if record.exc_info and record.exc_info[1] is not None:
                ty, message, stack = _describe(record.exc_info[1])
                attrs.update({"exception.type": ty, "exception.message": message, "exception.stacktrace": stack})
            _emit(_severity(record.levelno), record.levelname, record.getMessage(), attrs)
        except Exception:  # a logging handler must not raise
            self.handleError(record)


def install_logging(level: int = logging.INFO, logger: Optional[logging.Logger] = None) -> LoggingHandler:
    """Sends the standard :mod:`logging` records of ``logger`` (the root
    logger by default) at ``level`` and above through the host."""
    target = logger or logging.getLogger()
    for existing in target.handlers:
        if isinstance(existing, LoggingHandler):
            return existing
    h = LoggingHandler(level)
    target.addHandler(h)
    if target.level == logging.NOTSET or target.level > level:
        target.setLevel(level)
    return h


# ---------------------------------------------------------------------------
# Metrics

_INVALID = 0xFFFFFFFF


class _Instrument:
    _kind = ""

    def __init__(
        self,
        name: str,
        *,
        unit: str = "",
        description: str = "",
        float: bool = False,
        boundaries: Optional[Sequence[float]] = None,
    ) -> None:
        self.name = name
        self.id = _metrics.create(
            _metrics.InstrumentInfo(
                name,
                _metrics.InstrumentKind[self._kind],
                float,
                unit,
                description,
                None if boundaries is None else [builtin_float(b) for b in boundaries],
            )
        )

    @property
    def valid(self) -> bool:
        """Whether the host accepted the instrument."""
        return self.id != _INVALID

    def _record(self, value: Union[int, float], attributes: Optional[Attributes]) -> None:
        _metrics.record(self.id, _number(value), _attributes(attributes))


builtin_float = float


class _Sum(_Instrument):
    """The sums take measurements with ``add``."""

    def add(self, value: Union[int, float], attributes: Optional[Attributes] = None) -> None:
        self._record(value, attributes)


class _Recording(_Instrument):
    """Histograms and gauges take measurements with ``record``."""

    def record(self, value: Union[int, float], attributes: Optional[Attributes] = None) -> None:
        self._record(value, attributes)


class Counter(_Sum):
    """A monotonic sum."""

    _kind = "COUNTER"


class UpDownCounter(_Sum):
    """A sum that goes up and down."""

    _kind = "UP_DOWN_COUNTER"


class Histogram(_Recording):
    """A distribution of measurements."""

    _kind = "HISTOGRAM"


class Gauge(_Recording):
    """A current value."""

    _kind = "GAUGE"


class _Metrics:
    """The plugin's instruments, aggregated by the host, created once per
    name: ``metrics.counter("words", unit="{word}").add(3)``. ``float=True``
    makes an instrument take floating-point measurements (integers
    otherwise); ``boundaries`` are a histogram's buckets."""

    def __init__(self) -> None:
        self._instruments: Dict[Tuple[str, str], _Instrument] = {}

    def _get(self, cls: Any, name: str, options: Dict[str, Any]) -> Any:
        key = (cls._kind, name)
        found = self._instruments.get(key)
        if found is None:
            found = self._instruments[key] = cls(name, **options)
        return found

    def counter(self, name: str, **options: Any) -> Counter:
        return self._get(Counter, name, options)

    def up_down_counter(self, name: str, **options: Any) -> UpDownCounter:
        return self._get(UpDownCounter, name, options)

    def histogram(self, name: str, **options: Any) -> Histogram:
        return self._get(Histogram, name, options)

    def gauge(self, name: str, **options: Any) -> Gauge:
        return self._get(Gauge, name, options)


metrics = _Metrics()


# ---------------------------------------------------------------------------
# The handler export


def _error_message(error: BaseException) -> str:
    return f"{_exception_type(error)}: {error}"


class EventLoop(asyncio.AbstractEventLoop):
    """An :mod:`asyncio` event loop without I/O, for coroutines inside one
    invocation: ready callbacks in order, then timers (``asyncio.sleep``)
    waited for with ``time.sleep``. asyncio's own loops need a self-pipe,
    which WASI does not give, so :func:`run` uses this one."""

    def __init__(self) -> None:
        self._ready: "collections.deque[asyncio.Handle]" = collections.deque()
        self._timers: List[asyncio.TimerHandle] = []
        self._running = False
        self._closed = False
        self._exception: Optional[BaseException] = None

    def time(self) -> float:
        return time.monotonic()

    def get_debug(self) -> bool:
        return False

    def is_running(self) -> bool:
        return self._running

    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        self._ready.clear()
        self._timers.clear()
        self._closed = True

    def stop(self) -> None:
        self._running = False

    async def shutdown_asyncgens(self) -> None:
        pass

    async def shutdown_default_executor(self, timeout: Optional[float] = None) -> None:
        pass

    def call_exception_handler(self, context: Dict[str, Any]) -> None:
        # A task's exception nobody retrieved, or a failing callback: kept to
        # be raised by `run_until_complete`, as it would otherwise be lost.
        error = context.get("exception")
        if error is not None and self._exception is None and not isinstance(error, asyncio.CancelledError):
            self._exception = error

    def default_exception_handler(self, context: Dict[str, Any]) -> None:
        self.call_exception_handler(context)

    def call_soon(self, callback: Callable[..., Any], *args: Any, context: Optional[contextvars.Context] = None) -> asyncio.Handle:
        handle = asyncio.Handle(callback, args, self, context)
        self._ready.append(handle)
        return handle

    def call_soon_threadsafe(self, callback: Callable[..., Any], *args: Any, context: Optional[contextvars.Context] = None) -> asyncio.Handle:
        return self.call_soon(callback, *args, context=context)

    def call_at(self, when: float, callback: Callable[..., Any], *args: Any, context: Optional[contextvars.Context] = None) -> asyncio.TimerHandle:
        timer = asyncio.TimerHandle(when, callback, args, self, context)
        heapq.heappush(self._timers, timer)
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any, context: Optional[contextvars.Context] = None) -> asyncio.TimerHandle:
        return self.call_at(self.time() + delay, callback, *args, context=context)

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        pass  # skipped when it comes due

    def create_future(self) -> "asyncio.Future[Any]":
        return asyncio.Future(loop=self)

    def create_task(self, coro: Any, *, name: Optional[str] = None, context: Optional[contextvars.Context] = None) -> "asyncio.Task[Any]":
        return asyncio.Task(coro, loop=self, name=name, context=context)

    def run_until_complete(self, future: Awaitable[T]) -> T:
        task = asyncio.ensure_future(future, loop=self)
        self._running = True
        asyncio.events._set_running_loop(self)
        try:
            while not task.done():
                if not self._ready:
                    self._wait_for_timer()
                while self._ready:
                    handle = self._ready.popleft()
                    if not handle._cancelled:
                        handle._run()
                if self._exception is not None:
                    error, self._exception = self._exception, None
                    raise error
            return task.result()
        finally:
            self._running = False
            asyncio.events._set_running_loop(None)

    def _wait_for_timer(self) -> None:
        while self._timers and self._timers[0].cancelled():
            heapq.heappop(self._timers)
        if not self._timers:
            raise RuntimeError("the coroutine waits for something that never happens (no I/O in this event loop)")
        timer = heapq.heappop(self._timers)
        delay = timer.when() - self.time()
        if delay > 0:
            time.sleep(delay)
        self._ready.append(timer)


def run(main: Awaitable[T]) -> T:
    """Runs a coroutine to completion on a fresh :class:`EventLoop` (what
    the handler does with an ``async`` function), as ``asyncio.run`` would."""
    loop = EventLoop()
    try:
        return loop.run_until_complete(main)
    finally:
        # Tasks left behind are cancelled so that their spans end.
        pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()


def _run(fn: Callable[[str], Union[str, Awaitable[str], None]], input: str) -> str:
    """Calls the plugin's function, driving a coroutine with :func:`run`,
    and turns an exception into the ``handle`` export's error."""
    _current.set(INVOCATION)
    try:
        output = fn(input)
        if inspect.isawaitable(output):
            output = run(output)
    except Exception as e:
        raise Err(_error_message(e)) from e
    return "" if output is None else str(output)


def handler(fn: Callable[[str], Union[str, Awaitable[str], None]]) -> type:
    """The ``Handler`` class componentize-py exports, from ``fn(input)``
    (sync or ``async``, returning a string). An exception becomes the
    handler's error result ("Type: message"), so the invocation span gets
    status Error instead of the component trapping.

        async def handle(input: str) -> str: ...

        Handler = wasmtrace.handler(handle)
    """

    class _Handler(Handler):
        def run(self, input: str) -> Union[str, Awaitable[str], None]:
            return fn(input)

    _Handler.__name__ = _Handler.__qualname__ = "Handler"
    _Handler.__doc__ = fn.__doc__
    return _Handler


class Handler:
    """Base class of a plugin's ``Handler`` export: override ``run`` (sync or
    ``async``). Exceptions become the handler's error result."""

    def run(self, input: str) -> Union[str, Awaitable[str], None]:
        raise NotImplementedError("override Handler.run")

    def handle(self, input: str) -> str:
        return _run(self.run, input)
