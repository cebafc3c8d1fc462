"""The quickstart plugin for ``wasmtrace run`` (world wasmtrace:plugin/plugin):
see words.py for the trace it records. Input ``fail`` fails validation: the
handler's error result, and the invocation span's status Error."""

import wasmtrace
from words import count_words


def handle(input: str) -> str:
    return count_words(input, "stdin")


Handler = wasmtrace.handler(handle)
