//! A test guest that misbehaves with spans open, so that tests can check
//! that the host ends and exports them (DESIGN.md §8).
//!
//! Input selects the failure: `trap` (panics with three spans open), `loop`
//! (spins forever: the deadline must stop it), `grow` (allocates until the
//! memory limit stops it); anything else succeeds.

use wasmtrace_sdk::{Span, attrs};

fn handle(input: String) -> Result<String, String> {
    let outer = Span::builder("outer")
        .attributes(attrs! { "depth" => 1 })
        .start();
    let middle = Span::builder("middle")
        .attributes(attrs! { "depth" => 2 })
        .start();
    let inner = Span::builder("inner")
        .attributes(attrs! { "depth" => 3 })
        .start();
    match input.as_str() {
        "trap" => panic!("plugin gave up with three spans open"),
        "loop" => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        "grow" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        _ => {
            drop((inner, middle, outer));
            Ok("fine".to_owned())
        }
    }
}

wasmtrace_sdk::plugin!(handle);
