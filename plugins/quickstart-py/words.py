"""The quickstart plugin's work, shared by the handler (``app.py``, for
``wasmtrace run``) and the HTTP service (``service.py``, for ``wasmtrace serve``).

Trace shape (under the host's invocation span)::

    handle_request            request.size, request.defaulted, request.source
    ├── validate_request      (input `fail`: status Error + `exception` event
    │                          with exception.type words.ValidationError, and
    │                          a WARNING log record through `logging`)
    ├── process_business_logic
    │     attributes added mid-span: items_processed, processing_status,
    │     processing.avg_word_length, processing.top_words,
    │     processing.word_lengths; event `data_fetched` { record_count };
    │     INFO log record `counted the words` { words, unique }
    └── send_response         response.size

Metrics: ``quickstart.words`` (counter, ``{word}``) and
``quickstart.request.size`` (histogram, ``By``), as the Rust quickstart.
"""

import logging
from collections import Counter

import wasmtrace

#: The input used when the plugin is invoked with an empty one.
DEFAULT_INPUT = "hello world"

logger = logging.getLogger("quickstart")
wasmtrace.install_logging(logging.INFO)


class ValidationError(Exception):
    """Why a request was rejected."""


def count_words(text: str, source: str) -> str:
    """Counts the words of ``text`` in the quickstart's spans; the response."""
    defaulted = text.strip() == ""
    if defaulted:
        text = DEFAULT_INPUT
    size = len(text.encode("utf-8"))
    attributes = {"request.size": size, "request.defaulted": defaulted, "request.source": source}
    with wasmtrace.span("handle_request", attributes=attributes) as request:
        wasmtrace.metrics.histogram(
            "quickstart.request.size",
            unit="By",
            description="Size of the quickstart plugin's input",
            boundaries=[16, 64, 256, 1024],
        ).record(size)

        with wasmtrace.span("validate_request", attributes={"validation.rules": ["non_empty", "not_fail"]}):
            validate(text)

        with wasmtrace.span("process_business_logic"):
            words, unique, top = process(text)

        response = f"{words} words, {unique} unique; most frequent: " + ", ".join(f"{w} ({n})" for w, n in top)
        with wasmtrace.span("send_response", attributes={"response.size": len(response)}):
            pass
        request.set_attribute("response.words", words)
        return response


def validate(text: str) -> None:
    if text.strip() == "fail":
        logger.warning("rejecting the input", extra={"attributes": {"rule": "not_fail"}})
        raise ValidationError("input `fail` is rejected by the quickstart plugin")


def process(text: str) -> tuple[int, int, list[tuple[str, int]]]:
    words = text.split()
    wasmtrace.record_event("data_fetched", record_count=len(words))

    counts = Counter(w.lower() for w in words)
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:3]
    lengths = [len(w) for w in words]
    average = sum(lengths) / len(words) if words else 0.0

    logger.info("counted the words", extra={"attributes": {"words": len(words), "unique": len(counts)}})
    wasmtrace.metrics.counter(
        "quickstart.words", unit="{word}", description="Words the quickstart plugin counted"
    ).add(len(words), {"processing_status": "completed"})

    wasmtrace.add_attributes(
        {
            "items_processed": len(words),
            "processing_status": "completed",
            "processing.avg_word_length": float(average),
            "processing.top_words": [w for w, _ in top],
            "processing.word_lengths": lengths,
        }
    )
    return len(words), len(counts), top
