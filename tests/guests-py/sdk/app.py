"""The Python SDK's test guest (tests/all/sdk_py.rs): one scenario per
input, each exercising part of the SDK; the output is what the test checks
besides the spans."""

import asyncio
import json
import logging

import wasmtrace
from wasmtrace import span, traced

logger = logging.getLogger("sdk-test")
wasmtrace.install_logging(logging.DEBUG)


class ValidationError(Exception):
    pass


def types() -> str:
    attributes = {
        "s": "text", "b": True, "i": 42, "big": -(2**63), "f": 1.5, "forced": 2.0,
        "sa": ["a", "b"], "ba": [True, False], "ia": [1, 2], "bia": [1, 2**63 - 1], "fa": [0.5, 2.5],
        "mixed": [1, 2.5], "skipped": None,
    }
    with span("typed", attributes=attributes, kind="server") as s:
        s.add_event("typed.event", {"n": 7, "ratio": 0.25})
        with span("child"):
            return "typed"


def throw() -> str:
    with span("outer"):
        with span("inner"):
            raise ValidationError("input rejected")


@traced("decorated", record_args=True)
def decorated(word: str, times: int) -> str:
    wasmtrace.add_attributes(inside=True)
    return word * times


async def tick() -> None:
    # Yields to the event loop so that the other task runs.
    await asyncio.sleep(0)


@traced
async def step(name: str) -> None:
    await tick()
    with span("leaf", attributes={"task": name}):
        await tick()


async def task(name: str, order: list) -> str:
    with span(f"task {name}", attributes={"task": name}):
        order.append(f"{name} start")
        await tick()
        order.append(f"{name} after first await")
        with span("step 1"):
            with span("leaf"):
                wasmtrace.record_event("leaf.done", task=name)
        await step(name)
        order.append(f"{name} end")
        return name


async def concurrent() -> str:
    order: list = []
    with span("concurrent"):
        done = await asyncio.gather(task("a", order), task("b", order))
    return f"{','.join(done)}: {'; '.join(order)}"


async def reject() -> str:
    with span("async outer"):
        await tick()
        raise TypeError("rejected later")


def propagation() -> str:
    with span("propagation"):
        own = wasmtrace.current_span_context()
        with wasmtrace.with_baggage({"tenant": "acme"}):
            headers = {**wasmtrace.propagate_context(), "seen": wasmtrace.baggage_item("tenant")}
        with wasmtrace.with_propagated_context(
            {"TraceParent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
        ):
            with span("continued"):
                remote = wasmtrace.current_span_context().trace_id
        return json.dumps({"own": own.span_id, "headers": headers, "pairs": len(wasmtrace.trace_headers()), "remote": remote})


def cache() -> str:
    with span("cached"):
        before = wasmtrace.cache.get_str("k")
        wasmtrace.cache.put("k", "v1")
        after = wasmtrace.cache.get_str("k")
        removed = wasmtrace.cache.delete("k")
        return f"{before}|{after}|{removed}|{wasmtrace.cache.get('k')}"


def call() -> str:
    try:
        return wasmtrace.call_plugin("no-such-plugin", "x")
    except wasmtrace.PluginCallError as e:
        return f"{type(e).__name__}:{e.kind}"


def logs() -> str:
    with span("logging"):
        logger.info("hello %s", "world", extra={"attributes": {"n": 3}})
        try:
            raise KeyError("missing")
        except KeyError:
            logger.exception("it failed")
        wasmtrace.log.warn("direct", code=7)
    return "logged"


SCENARIOS = {
    "types": types,
    "throw": throw,
    "decorated": lambda: decorated("ab", 2),
    "concurrent": concurrent,
    "reject": reject,
    "propagation": propagation,
    "cache": cache,
    "call": call,
    "logs": logs,
}


def handle(input: str):
    scenario = SCENARIOS.get(input)
    if scenario is None:
        raise LookupError(f"no scenario {input}")
    return scenario()


Handler = wasmtrace.handler(handle)
