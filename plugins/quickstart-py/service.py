"""The quickstart plugin as an HTTP service for ``wasmtrace serve`` (built
with ``--http``): ``GET /words?text=...`` answers the word count, in the same
spans as app.py, under the host's server span. A failed validation is a 422
with the message; any other path a 404."""

from urllib.parse import parse_qs, urlsplit

from componentize_py_types import Ok
from wit_world import exports
from wit_world.imports.wasi_http_types import Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam

from words import ValidationError, count_words


def respond(response_out: ResponseOutparam, status: int, text: str) -> None:
    data = text.encode("utf-8")
    headers = [("content-type", b"text/plain; charset=utf-8"), ("content-length", str(len(data)).encode())]
    response = OutgoingResponse(Fields.from_list(headers))
    response.set_status_code(status)
    body = response.body()
    ResponseOutparam.set(response_out, Ok(response))
    with body.write() as stream:
        stream.blocking_write_and_flush(data)
    OutgoingBody.finish(body, None)


class IncomingHandler(exports.IncomingHandler):
    def handle(self, request: IncomingRequest, response_out: ResponseOutparam) -> None:
        url = urlsplit(request.path_with_query() or "/")
        if url.path != "/words":
            respond(response_out, 404, "not found\n")
            return
        text = parse_qs(url.query).get("text", [""])[0]
        try:
            respond(response_out, 200, count_words(text, "http") + "\n")
        except ValidationError as e:
            respond(response_out, 422, f"{e}\n")
