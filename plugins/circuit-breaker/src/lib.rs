//! The circuit-breaker plugin: the guide's "Circuit Breaker with Tracing"
//! pattern, with the breaker in the guest. It charges a series of payments
//! through a simulated `payment_api` that is down for its first requests;
//! the breaker opens, rejects calls without trying, and after a cooldown lets
//! one probe through, which closes it again.
//!
//! Trace shape (under the host's invocation span), default run:
//!
//! ```text
//! charge_payments            payments.count=7, circuit_breaker.failure_threshold=3,
//! │                          circuit_breaker.cooldown_ms=50; at the end:
//! │                          payments.succeeded/failed/rejected, circuit_breaker.final_state
//! │  • circuit_breaker.waiting            wait_ms (before call 6)
//! ├── external_api_call  #1  service="payment_api", circuit_breaker.state="closed",
//! │   │                      circuit_breaker.decision="allow"   status Error
//! │   │  • circuit_breaker.decision       circuit_breaker.state, circuit_breaker.decision
//! │   └── http_request                    (client) http.response.status_code=503,
//! │                                       status Error + `exception` event
//! ├── external_api_call  #2  the same
//! ├── external_api_call  #3  the same, plus
//! │      • circuit_breaker.state_change   closed -> open
//! ├── external_api_call  #4  circuit_breaker.state="open", decision="reject", status Error
//! │      • circuit_breaker.decision
//! │      • circuit_breaker.rejected       circuit_breaker.state="open", retry_in_ms
//! │                                       (no http_request: the call never left)
//! ├── external_api_call  #5  rejected the same way
//! ├── external_api_call  #6  circuit_breaker.state="half_open", decision="probe"
//! │   │  • circuit_breaker.state_change   open -> half_open
//! │   │  • circuit_breaker.decision
//! │   │  • circuit_breaker.state_change   half_open -> closed
//! │   └── http_request                    http.response.status_code=200
//! └── external_api_call  #7  closed, allow; http_request 200
//! ```
//!
//! The input is how many requests the payment API fails before it recovers
//! (default 3). With 4, the half-open probe fails too and the breaker opens
//! again (`half_open -> open`), so call 7 is rejected. The handler returns
//! `Ok` with a per-call summary: failed and rejected calls are the breaker
//! doing its job, and are visible in the trace.

use std::cell::Cell;
use std::fmt;
use std::thread;
use std::time::Duration;

use wasmtrace_sdk::{Span, SpanKind, add_attributes, attrs, record_event};

/// Consecutive failures that open the breaker.
const FAILURE_THRESHOLD: u32 = 3;

/// How long the breaker stays open before it lets a probe through.
const COOLDOWN: Duration = Duration::from_millis(50);

/// Simulated network latency of one request to the payment API.
const LATENCY: Duration = Duration::from_millis(2);

/// How many requests the payment API fails when the input is empty.
const DEFAULT_FAILURES: u32 = 3;

/// The payments charged, in cents; the breaker's cooldown is waited out
/// after [`WAIT_AFTER`] calls.
const PAYMENTS: [i64; 7] = [1999, 4500, 1250, 899, 3000, 2750, 1500];

/// The number of calls made before waiting for the cooldown.
const WAIT_AFTER: usize = 5;

/// The plugin's clock: the time it has spent in simulated network latency
/// and in waits. Both really sleep, so the trace shows them, but the breaker
/// reads this clock instead of the wall clock, so that its decisions (and the
/// trace) do not depend on how busy the machine is. A breaker in production
/// would read `std::time::Instant`.
#[derive(Default)]
struct Clock {
    elapsed: Cell<Duration>,
}

impl Clock {
    fn now(&self) -> Duration {
        self.elapsed.get()
    }

    fn sleep(&self, duration: Duration) {
        thread::sleep(duration);
        self.elapsed.set(self.elapsed.get() + duration);
    }
}

/// The breaker's states, as the trace spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Closed,
    Open,
    HalfOpen,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }
}

/// An error response from the payment API.
#[derive(Debug)]
struct UpstreamError {
    status: u16,
}

impl fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "payment_api returned {} Service Unavailable",
            self.status
        )
    }
}

impl std::error::Error for UpstreamError {}

/// Why a guarded call did not succeed.
#[derive(Debug)]
enum CallError {
    /// The breaker was open: the call was not attempted.
    Rejected { retry_in: Duration },
    /// The call was made and failed.
    Failed(UpstreamError),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Rejected { retry_in } => write!(
                f,
                "rejected: circuit open, retry in {} ms",
                retry_in.as_millis()
            ),
            CallError::Failed(err) => write!(f, "failed: {err}"),
        }
    }
}

/// A consecutive-failure circuit breaker. Its decisions and state changes
/// are recorded on the current span.
struct CircuitBreaker {
    state: State,
    consecutive_failures: u32,
    /// When (on the [`Clock`]) the breaker last opened.
    opened_at: Duration,
    /// Every state the breaker has been in, in order (for the summary).
    history: Vec<State>,
}

impl CircuitBreaker {
    fn new() -> Self {
        Self {
            state: State::Closed,
            consecutive_failures: 0,
            opened_at: Duration::ZERO,
            history: vec![State::Closed],
        }
    }

    /// Runs `f` unless the breaker is open; records the decision
    /// (`circuit_breaker.decision` event and attributes) and any rejection or
    /// state change on the current span.
    fn call<T>(
        &mut self,
        clock: &Clock,
        f: impl FnOnce() -> Result<T, UpstreamError>,
    ) -> Result<T, CallError> {
        if self.state == State::Open && self.remaining_cooldown(clock).is_zero() {
            self.transition(clock, State::HalfOpen);
        }
        let decision = match self.state {
            State::Closed => "allow",
            State::HalfOpen => "probe",
            State::Open => "reject",
        };
        let decided = attrs! {
            "circuit_breaker.state" => self.state.as_str(),
            "circuit_breaker.decision" => decision,
        };
        add_attributes(decided.clone());
        record_event("circuit_breaker.decision", decided);

        if self.state == State::Open {
            let retry_in = self.remaining_cooldown(clock);
            record_event(
                "circuit_breaker.rejected",
                attrs! {
                    "circuit_breaker.state" => "open",
                    "circuit_breaker.retry_in_ms" => millis(retry_in),
                },
            );
            return Err(CallError::Rejected { retry_in });
        }

        let result = f();
        match &result {
            Ok(_) => {
                self.consecutive_failures = 0;
                if self.state == State::HalfOpen {
                    self.transition(clock, State::Closed);
                }
            }
            Err(_) => {
                self.consecutive_failures += 1;
                if self.state == State::HalfOpen || self.consecutive_failures >= FAILURE_THRESHOLD {
                    self.transition(clock, State::Open);
                }
            }
        }
        add_attributes(attrs! {
            "circuit_breaker.consecutive_failures" => self.consecutive_failures,
        });
        result.map_err(CallError::Failed)
    }

    fn transition(&mut self, clock: &Clock, to: State) {
        record_event(
            "circuit_breaker.state_change",
            attrs! {
                "circuit_breaker.previous_state" => self.state.as_str(),
                "circuit_breaker.state" => to.as_str(),
            },
        );
        if to == State::Open {
            self.opened_at = clock.now();
        }
        self.state = to;
        self.history.push(to);
    }

    /// How long until an open breaker lets a probe through (zero otherwise).
    fn remaining_cooldown(&self, clock: &Clock) -> Duration {
        if self.state == State::Open {
            COOLDOWN.saturating_sub(clock.now() - self.opened_at)
        } else {
            Duration::ZERO
        }
    }
}

/// The simulated payment API: fails its first `failures` requests with 503.
struct PaymentApi {
    failures: u32,
    charges: u32,
}

impl PaymentApi {
    fn charge(&mut self, clock: &Clock) -> Result<String, UpstreamError> {
        clock.sleep(LATENCY);
        if self.failures > 0 {
            self.failures -= 1;
            return Err(UpstreamError { status: 503 });
        }
        self.charges += 1;
        Ok(format!("ch_{:04}", self.charges))
    }
}

/// The guarded call of the guide: an `external_api_call` span around the
/// breaker, and an `http_request` client span for calls that go out.
fn call_api(
    breaker: &mut CircuitBreaker,
    clock: &Clock,
    api: &mut PaymentApi,
    index: usize,
    amount_cents: i64,
) -> Result<String, CallError> {
    let span = Span::builder("external_api_call")
        .attributes(attrs! {
            "service" => "payment_api",
            "call.index" => index,
            "payment.amount_cents" => amount_cents,
        })
        .start();
    let result = breaker.call(clock, || http_request(clock, api));
    match &result {
        Ok(receipt) => span.set_attribute("payment.receipt", receipt.as_str()),
        Err(err) => span.set_error(err),
    }
    result
}

fn http_request(clock: &Clock, api: &mut PaymentApi) -> Result<String, UpstreamError> {
    let span = Span::builder("http_request")
        .kind(SpanKind::Client)
        .attributes(attrs! {
            "http.request.method" => "POST",
            "url.full" => "https://payment-api.invalid/charge",
            "server.address" => "payment-api.invalid",
        })
        .start();
    let result = api.charge(clock);
    match &result {
        Ok(_) => span.set_attribute("http.response.status_code", 200),
        Err(err) => {
            span.set_attributes(attrs! {
                "http.response.status_code" => err.status,
                "error.type" => err.status.to_string(),
            });
            span.record_result(&result);
        }
    }
    result
}

fn handle(input: String) -> Result<String, String> {
    let failures = match input.trim() {
        "" => DEFAULT_FAILURES,
        n => n.parse::<u32>().map_err(|_| {
            format!("input must be empty or the number of failing requests; got `{n}`")
        })?,
    };
    let mut api = PaymentApi {
        failures,
        charges: 0,
    };
    let mut breaker = CircuitBreaker::new();
    let clock = Clock::default();

    let span = Span::builder("charge_payments")
        .attributes(attrs! {
            "payments.count" => PAYMENTS.len(),
            "circuit_breaker.failure_threshold" => FAILURE_THRESHOLD,
            "circuit_breaker.cooldown_ms" => millis(COOLDOWN),
        })
        .start();

    let mut lines = Vec::new();
    let (mut succeeded, mut failed, mut rejected) = (0, 0, 0);
    for (i, &amount) in PAYMENTS.iter().enumerate() {
        if i == WAIT_AFTER {
            let wait = breaker.remaining_cooldown(&clock);
            if !wait.is_zero() {
                // Wait out the cooldown so that the next call is the
                // half-open probe.
                record_event(
                    "circuit_breaker.waiting",
                    attrs! { "wait_ms" => millis(wait) },
                );
                clock.sleep(wait);
                lines.push(format!("(waited {} ms for the cooldown)", wait.as_millis()));
            }
        }
        let seen = breaker.history.len();
        let result = call_api(&mut breaker, &clock, &mut api, i + 1, amount);
        match &result {
            Ok(_) => succeeded += 1,
            Err(CallError::Failed(_)) => failed += 1,
            Err(CallError::Rejected { .. }) => rejected += 1,
        }
        let outcome = match result {
            Ok(receipt) => format!("charged, receipt {receipt}"),
            Err(err) => err.to_string(),
        };
        // The state the call started in, and any it moved to.
        let state = breaker.history[seen - 1..]
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" -> ");
        lines.push(format!(
            "call {} ({}): {outcome} [breaker {state}]",
            i + 1,
            money(amount)
        ));
    }
    span.set_attributes(attrs! {
        "payments.succeeded" => succeeded,
        "payments.failed" => failed,
        "payments.rejected" => rejected,
        "circuit_breaker.final_state" => breaker.state.as_str(),
    });
    lines.push(format!(
        "{succeeded} charged, {failed} failed, {rejected} rejected; breaker {}",
        breaker.state.as_str()
    ));
    Ok(lines.join("\n"))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn money(cents: i64) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

wasmtrace_sdk::plugin!(handle);
