//! `hello, world` for every request, through nothing but `wasi:http/proxy`:
//! the component `tests/benches/serve.sh` serves with `wasmtrace serve` and
//! with `wasmtime serve` alike, and that shows a component without any
//! wasmtrace import is still traced (its server and invocation spans).

use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

const BODY: &[u8] = b"hello, world\n";

struct Hello;

impl wasi::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let headers = Fields::from_list(&[
            ("content-type".to_owned(), b"text/plain".to_vec()),
            (
                "content-length".to_owned(),
                BODY.len().to_string().into_bytes(),
            ),
        ])
        .expect("valid headers");
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("the body, taken once");
        ResponseOutparam::set(out, Ok(response));
        let stream = body.write().expect("the stream, taken once");
        // One write: the body is far below the 4096-byte write budget.
        stream
            .blocking_write_and_flush(BODY)
            .expect("writing the body");
        drop(stream);
        OutgoingBody::finish(body, None).expect("finishing the body");
    }
}

wasi::http::proxy::export!(Hello);
