//! Text shared by the renderers: durations and names made safe to print.

use std::borrow::Cow;

/// `660µs`, `1.50ms`, `2.00s`: three significant figures or so, as the
/// console has always printed them.
pub(crate) fn duration(nanos: u64) -> String {
    let us = nanos as f64 / 1e3;
    if us < 1000.0 {
        format!("{us:.0}µs")
    } else if us < 1e6 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{:.2}s", us / 1e6)
    }
}

/// `s` with control characters escaped (`\u{1b}`), so that a name a
/// plugin chose cannot move the cursor, recolour or clear a terminal.
pub(crate) fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_debug().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_names() {
        assert_eq!(duration(0), "0µs");
        assert_eq!(duration(659_600), "660µs");
        assert_eq!(duration(1_500_000), "1.50ms");
        assert_eq!(duration(2_000_000_000), "2.00s");
        assert_eq!(printable("ok"), "ok");
        assert_eq!(printable("a\u{1b}[2Jb\n"), "a\\u{1b}[2Jb\\n");
    }
}
