//! One request handler written three ways, which must give the same span
//! tree: with the SDK's own API (`sdk:TEXT`), with nothing but the `tracing`
//! crate's macros and `#[instrument]` (`tracing:TEXT`, recorded by the SDK's
//! `tracing` bridge), and with `#[traced]` (`traced:TEXT`).
//!
//! ```text
//! handle_request        size
//! ├── validate          words  (TEXT "fail": exception event, status Error)
//! └── count             words
//!     │  event counted  total, unique
//!     └── lookup        word
//! ```

use std::collections::BTreeSet;

fn handle(input: String) -> Result<String, String> {
    let (style, text) = input
        .split_once(':')
        .ok_or_else(|| "input is STYLE:TEXT (sdk, tracing or traced)".to_owned())?;
    match style {
        "sdk" => sdk::handle_request(text),
        "tracing" => with_tracing::handle_request(text),
        "traced" => with_traced::handle_request(text.len() as i64, text),
        other => Err(format!("unknown style {other:?}")),
    }
}

wasmtrace_sdk::plugin!(handle);

fn words(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

fn check(words: &[&str]) -> Result<(), String> {
    match words {
        [] => Err("empty request".to_owned()),
        ["fail", ..] => Err("request rejected".to_owned()),
        _ => Ok(()),
    }
}

fn unique(words: &[&str]) -> i64 {
    words.iter().collect::<BTreeSet<_>>().len() as i64
}

fn reply(words: &[&str], unique: i64) -> String {
    format!("{} words, {unique} unique", words.len())
}

mod sdk {
    use wasmtrace_sdk::{attrs, record_event, try_with_span, with_span};

    pub(crate) fn handle_request(text: &str) -> Result<String, String> {
        try_with_span(
            "handle_request",
            attrs! { "size" => text.len() as i64 },
            || {
                let words = super::words(text);
                let count = words.len() as i64;
                try_with_span("validate", attrs! { "words" => count }, || {
                    super::check(&words)
                })?;
                let unique = with_span("count", attrs! { "words" => count }, || {
                    let unique = super::unique(&words);
                    record_event("counted", attrs! { "total" => count, "unique" => unique });
                    with_span("lookup", attrs! { "word" => words[0] }, || ());
                    unique
                });
                Ok(super::reply(&words, unique))
            },
        )
    }
}

mod with_tracing {
    use tracing::{info, instrument};

    #[instrument(name = "handle_request", skip_all, fields(size = text.len() as i64), err)]
    pub(crate) fn handle_request(text: &str) -> Result<String, String> {
        let words = super::words(text);
        validate(&words)?;
        let unique = count(&words);
        Ok(super::reply(&words, unique))
    }

    #[instrument(skip_all, fields(words = words.len() as i64), err)]
    fn validate(words: &[&str]) -> Result<(), String> {
        super::check(words)
    }

    #[instrument(skip_all, fields(words = words.len() as i64))]
    fn count(words: &[&str]) -> i64 {
        let unique = super::unique(words);
        info!(total = words.len() as i64, unique, "counted");
        lookup(words[0]);
        unique
    }

    #[instrument(skip_all, fields(word = word))]
    fn lookup(word: &str) {}
}

mod with_traced {
    use wasmtrace_sdk::{attrs, record_event, traced};

    #[traced(skip(text))]
    pub(crate) fn handle_request(size: i64, text: &str) -> Result<String, String> {
        let words = super::words(text);
        validate(words.len() as i64, &words)?;
        let unique = count(words.len() as i64, &words);
        Ok(super::reply(&words, unique))
    }

    #[traced(skip(list))]
    fn validate(words: i64, list: &[&str]) -> Result<(), String> {
        super::check(list)
    }

    #[traced(skip(list))]
    fn count(words: i64, list: &[&str]) -> i64 {
        let unique = super::unique(list);
        record_event("counted", attrs! { "total" => words, "unique" => unique });
        lookup(list[0]);
        unique
    }

    #[traced]
    fn lookup(word: &str) {}
}
