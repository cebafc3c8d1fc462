//! The batch plugin: the guide's "Batch Processing" pattern. It factorises a
//! batch of numbers into primes, one span per item; items that fail are
//! marked as errors without failing the batch.
//!
//! Trace shape (under the host's invocation span), default run:
//!
//! ```text
//! batch_processing        batch_size=6; at the end: success_count, failure_count=2
//! ├── process_item        item_index=0  item="3"     status="success"  factors=[3]
//! ├── process_item        item_index=1  item="7"     status="success"  factors=[7]
//! ├── process_item        item_index=2  item="oops"  status="error"  error="..."
//! │                       status Error + `exception` event
//! ├── process_item        item_index=3  item="12"    status="success"  factors=[2, 2, 3]
//! ├── process_item        item_index=4  item="x"     status="error"  (Error + `exception`)
//! └── process_item        item_index=5  item="5"     status="success"  factors=[5]
//! ```
//!
//! The input is a comma-separated list of items (default
//! `3,7,oops,12,x,5`). An item fails unless it is an integer from 2 to
//! 10^12. The handler returns `Ok` with a summary even when items fail; the
//! failures are in the trace.

use std::fmt;
use std::num::ParseIntError;

use wasmtrace_sdk::{Span, add_attributes, attrs, try_with_span};

/// The batch processed when the input is empty.
const DEFAULT_BATCH: &str = "3,7,oops,12,x,5";

/// The largest number factorised (trial division stays under a million
/// steps).
const MAX_VALUE: u64 = 1_000_000_000_000;

/// Why an item could not be processed.
#[derive(Debug)]
enum ItemError {
    NotANumber(String, ParseIntError),
    OutOfRange(u64),
}

impl fmt::Display for ItemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ItemError::NotANumber(item, err) => write!(f, "`{item}` is not a number: {err}"),
            ItemError::OutOfRange(n) => {
                write!(f, "{n} is outside the factorisable range 2..={MAX_VALUE}")
            }
        }
    }
}

impl std::error::Error for ItemError {}

fn handle(input: String) -> Result<String, String> {
    let input = if input.trim().is_empty() {
        DEFAULT_BATCH.to_owned()
    } else {
        input
    };
    let items: Vec<&str> = input.split(',').map(str::trim).collect();

    let batch = Span::builder("batch_processing")
        .attributes(attrs! { "batch_size" => items.len() })
        .start();

    let results: Vec<Result<Vec<u64>, ItemError>> = items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            try_with_span(
                "process_item",
                attrs! { "item_index" => index, "item" => *item },
                || {
                    let result = process_item(item);
                    match &result {
                        Ok(factors) => add_attributes(attrs! {
                            "status" => "success",
                            "factors" => factors.iter().map(|&f| f as i64).collect::<Vec<i64>>(),
                        }),
                        Err(err) => add_attributes(attrs! {
                            "status" => "error",
                            "error" => err.to_string(),
                        }),
                    }
                    result
                },
            )
        })
        .collect();

    let failures = results.iter().filter(|r| r.is_err()).count();
    batch.set_attributes(attrs! {
        "success_count" => results.len() - failures,
        "failure_count" => failures,
    });

    let lines: Vec<String> = items
        .iter()
        .zip(&results)
        .map(|(item, result)| match result {
            Ok(factors) => format!(
                "{item} = {}",
                factors
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(" x ")
            ),
            Err(err) => format!("{item}: error: {err}"),
        })
        .collect();
    Ok(format!(
        "{} items, {} succeeded, {} failed\n{}",
        items.len(),
        items.len() - failures,
        failures,
        lines.join("\n")
    ))
}

fn process_item(item: &str) -> Result<Vec<u64>, ItemError> {
    let n = item
        .parse::<u64>()
        .map_err(|e| ItemError::NotANumber(item.to_owned(), e))?;
    if !(2..=MAX_VALUE).contains(&n) {
        return Err(ItemError::OutOfRange(n));
    }
    Ok(prime_factors(n))
}

/// The prime factors of `n` (at least 2), smallest first, with repeats.
fn prime_factors(mut n: u64) -> Vec<u64> {
    let mut factors = Vec::new();
    let mut p = 2;
    while p * p <= n {
        while n.is_multiple_of(p) {
            factors.push(p);
            n /= p;
        }
        p += 1;
    }
    if n > 1 {
        factors.push(n);
    }
    factors
}

wasmtrace_sdk::plugin!(handle);
