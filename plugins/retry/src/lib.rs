//! The retry plugin: the guide's "Retry with Tracing" pattern. It loads a
//! small ledger from a simulated storage backend that is unavailable for the
//! first attempts, retrying with exponential backoff.
//!
//! Trace shape (under the host's invocation span), default run:
//!
//! ```text
//! data_processing            retry_enabled=true, retry.max_attempts=4,
//! │                          retry.backoff="exponential", retry.base_delay_ms=10;
//! │                          at the end: retry.attempts, retry.outcome
//! │  • retry_attempt         attempt=1  backoff_ms=0
//! │  • retry_attempt         attempt=2  backoff_ms=10
//! │  • retry_attempt         attempt=3  backoff_ms=20
//! ├── process_attempt        attempt=1  status Error + `exception` event
//! ├── process_attempt        attempt=2  status Error + `exception` event
//! └── process_attempt        attempt=3  records.processed, ledger.balance_cents
//! ```
//!
//! Each attempt is announced by a `retry_attempt` event on `data_processing`
//! (after the backoff wait, like the guide's `RetryService`) and runs in its
//! own `process_attempt` span. Waits double from 10 ms (10, 20, 40) and are
//! real (`std::thread::sleep`, WASI's monotonic clock).
//!
//! Input: empty (the backend fails twice, then recovers), a number `N` (it
//! fails `N` times), or `always-fail`. When every attempt fails, the final
//! error is recorded on `data_processing` (status Error, `exception` event,
//! `retry.outcome="exhausted"`) and the handler returns `Err`.

use std::fmt;
use std::thread;
use std::time::Duration;

use wasmtrace_sdk::{Span, attrs, record_event, try_with_span};

/// Attempts before giving up.
const MAX_ATTEMPTS: u32 = 4;

/// The wait before the second attempt; each later wait doubles.
const BASE_DELAY_MS: u64 = 10;

/// How often the simulated backend fails when the input is empty.
const DEFAULT_FAILURES: u32 = 2;

/// The ledger the job loads: `(account, amount in cents)`.
const LEDGER: &[(&str, i64)] = &[
    ("opening_balance", 120_000),
    ("rent", -85_000),
    ("salary", 310_000),
    ("groceries", -14_250),
    ("utilities", -9_875),
];

/// A failure worth retrying.
#[derive(Debug)]
struct TransientError {
    attempt: u32,
}

impl fmt::Display for TransientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "storage backend unavailable on attempt {} (simulated 503)",
            self.attempt
        )
    }
}

impl std::error::Error for TransientError {}

/// Every attempt failed.
#[derive(Debug)]
struct RetriesExhausted {
    attempts: u32,
    last: TransientError,
}

impl fmt::Display for RetriesExhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "all {} attempts failed; last error: {}",
            self.attempts, self.last
        )
    }
}

impl std::error::Error for RetriesExhausted {}

/// The simulated storage backend: fails its first `failures` requests.
struct Backend {
    failures: u32,
}

impl Backend {
    fn load_ledger(
        &mut self,
        attempt: u32,
    ) -> Result<&'static [(&'static str, i64)], TransientError> {
        if self.failures > 0 {
            self.failures -= 1;
            return Err(TransientError { attempt });
        }
        Ok(LEDGER)
    }
}

fn handle(input: String) -> Result<String, String> {
    let failures = match input.trim() {
        "" => DEFAULT_FAILURES,
        "always-fail" => u32::MAX,
        n => n.parse::<u32>().map_err(|_| {
            format!("input must be empty, a number of failures, or `always-fail`; got `{n}`")
        })?,
    };
    let mut backend = Backend { failures };

    let span = Span::builder("data_processing")
        .attributes(attrs! {
            "retry_enabled" => true,
            "retry.max_attempts" => MAX_ATTEMPTS,
            "retry.backoff" => "exponential",
            "retry.base_delay_ms" => BASE_DELAY_MS as i64,
        })
        .start();

    let (result, attempts) = retry(|attempt| {
        try_with_span("process_attempt", attrs! { "attempt" => attempt }, || {
            let ledger = backend.load_ledger(attempt)?;
            Ok(process_data(ledger))
        })
    });
    span.set_attribute("retry.attempts", attempts);

    match result {
        Ok((records, balance)) => {
            span.set_attribute("retry.outcome", "success");
            Ok(format!(
                "processed {records} ledger records on attempt {attempts} of {MAX_ATTEMPTS} \
                 ({} failed before); balance {}",
                attempts - 1,
                money(balance)
            ))
        }
        Err(last) => {
            let error = RetriesExhausted { attempts, last };
            span.set_attribute("retry.outcome", "exhausted");
            span.record_error(&error);
            span.set_error(&error);
            Err(error.to_string())
        }
    }
}

/// Runs `operation` with attempt numbers 1, 2, ... until it succeeds or
/// [`MAX_ATTEMPTS`] is reached, sleeping 10, 20, 40 ms between attempts.
/// Each attempt is announced by a `retry_attempt` event on the current span.
/// Returns the last result and the number of attempts made.
fn retry<T>(
    mut operation: impl FnMut(u32) -> Result<T, TransientError>,
) -> (Result<T, TransientError>, u32) {
    let mut backoff_ms = 0;
    let mut attempt = 1;
    loop {
        record_event(
            "retry_attempt",
            attrs! { "attempt" => attempt, "backoff_ms" => backoff_ms as i64 },
        );
        let result = operation(attempt);
        if result.is_ok() || attempt == MAX_ATTEMPTS {
            return (result, attempt);
        }
        backoff_ms = BASE_DELAY_MS << (attempt - 1);
        thread::sleep(Duration::from_millis(backoff_ms));
        attempt += 1;
    }
}

/// Totals the ledger: the number of records and the closing balance.
fn process_data(ledger: &[(&str, i64)]) -> (i64, i64) {
    let balance = ledger.iter().map(|(_, cents)| cents).sum();
    let records = i64::try_from(ledger.len()).unwrap_or(i64::MAX);
    wasmtrace_sdk::add_attributes(attrs! {
        "records.processed" => records,
        "ledger.balance_cents" => balance,
    });
    (records, balance)
}

fn money(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}${}.{:02}", cents.abs() / 100, cents.abs() % 100)
}

wasmtrace_sdk::plugin!(handle);
