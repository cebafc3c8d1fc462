//! The terminal waterfall: one line per span, its bar placed on the
//! trace's time axis, so that where the time went (overlaps, gaps, the long
//! pole) shows without adding up durations.
//!
//! ```text
//! trace 00000000000000000000000000000007  4 spans  10.00ms
//!                           0µs      2.50ms      5.00ms      7.50ms    10.00ms
//! GET /users [server]       ██████████████████████████████████████████  10.00ms
//! ├─ query [client, 1 link]   ████████◆██████                           3.50ms
//! └─ render                                  ██████████✗                2.50ms ✗
//! ◆ event  ✗ exception/error
//! ```
//!
//! Marks: `[server]`/`[client]`/`[producer]`/`[consumer]` the span's kind
//! and `N link(s)` its links, after the name; `◆` an event, `✗` an
//! exception event, `▪` a log record (`✗` when ERROR or worse) at its time
//! on the bar; `✗` after the duration a span whose status is Error; `▏` a
//! span too short for one cell. With colour, bars are coloured by kind and
//! Error spans are red.

use super::model::{Span, SpanKind, Status, Trace, TraceSet};
use super::text::{duration, printable};
use super::tree::render_untraced_logs;
use std::fmt::Write as _;

/// How [`render_waterfall`] draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaterfallOptions {
    /// Columns per line (the terminal's width).
    pub width: usize,
    /// Whether to use ANSI colours.
    pub color: bool,
}

impl Default for WaterfallOptions {
    fn default() -> Self {
        Self {
            width: super::DEFAULT_WIDTH,
            color: false,
        }
    }
}

/// The duration column (right-aligned): `999.99ms` fits.
const DURATION_WIDTH: usize = 8;
/// The bar area never gets narrower than this, whatever the width.
const MIN_BAR: usize = 10;
/// The label column's narrowest.
const MIN_LABEL: usize = 10;

const EVENT: char = '◆';
const EXCEPTION: char = '✗';
const LOG: char = '▪';
const ERROR_MARK: char = '✗';
const THIN: char = '▏';
const FULL: char = '█';

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const DIM: &str = "\x1b[2m";
const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";

/// Renders every trace of `set` as a waterfall `options.width` wide.
pub fn render_waterfall(set: &TraceSet, options: &WaterfallOptions) -> String {
    let mut out = String::new();
    for trace in &set.traces {
        render_trace(&mut out, trace, options);
    }
    render_untraced_logs(&mut out, set);
    out
}

/// A span's line before it is laid out.
struct Row<'a> {
    span: &'a Span,
    /// Tree glyphs (and `[depth] ` past the indentation cap).
    prefix: String,
    /// Kind and links, after the name.
    marks: String,
}

fn render_trace(out: &mut String, trace: &Trace, options: &WaterfallOptions) {
    let paint = Paint(options.color);
    let start = trace.start_unix_nano();
    let total = trace.end_unix_nano() - start;
    let count = trace.spans.len();
    let stats = format!(
        "  {count} span{}  {}",
        if count == 1 { "" } else { "s" },
        duration(total)
    );
    let title = format!("trace {}", trace.trace_id);
    // The id alone where the counts would not fit.
    let stats = if width_of(&title) + width_of(&stats) <= options.width {
        stats
    } else {
        String::new()
    };
    let _ = writeln!(out, "{}{title}{}{stats}", paint.on(BOLD), paint.off());

    let label_cap = (options.width * 2 / 5).max(MIN_LABEL);
    // Indentation takes at most half the label column.
    let max_levels = (label_cap / 2 / 3).max(1);
    let mut rows = Vec::with_capacity(count);
    let mut lasts: Vec<bool> = Vec::new();
    for (span, node) in trace.spans.iter().zip(&trace.nodes) {
        lasts.truncate(node.depth);
        let mut prefix = String::new();
        if node.depth > 0 {
            // Levels below the roots; a root's own line has no glyph.
            let levels = &lasts[1..];
            for &last in levels.iter().take(max_levels - 1) {
                prefix.push_str(if last { "   " } else { "│  " });
            }
            if node.depth > max_levels {
                let _ = write!(prefix, "[{}] ", node.depth);
            }
            prefix.push_str(if node.last { "└─ " } else { "├─ " });
        }
        lasts.push(node.last);
        rows.push(Row {
            span,
            prefix,
            marks: marks(span),
        });
    }
    let widest = rows
        .iter()
        .map(|r| width_of(&r.prefix) + width_of(&printable(&r.span.name)) + width_of(&r.marks))
        .max()
        .unwrap_or(0);
    let label = widest.clamp(MIN_LABEL, label_cap);
    let bar = options
        .width
        .saturating_sub(label + 1 + 1 + DURATION_WIDTH + 2)
        .max(MIN_BAR);
    let axis = Axis { start, total, bar };

    let ruler = ruler(total, bar);
    let _ = writeln!(
        out,
        "{}{}{ruler}{}",
        " ".repeat(label + 1),
        paint.on(DIM),
        paint.off()
    );

    let (mut events, mut exceptions, mut logs, mut errors) = (false, false, false, false);
    for (row, node) in rows.iter().zip(&trace.nodes) {
        let span = row.span;
        if node.depth == 0
            && let Some(parent) = span.parent_span_id
        {
            let _ = writeln!(out, "(continues parent span {parent})");
        }
        let failed = matches!(span.status, Status::Error(_));
        errors |= failed;

        // The label: prefix, the name cut to fit, the marks (cut last).
        let prefix_width = width_of(&row.prefix);
        let room = label.saturating_sub(prefix_width + width_of(&row.marks));
        let name = truncate(&printable(&span.name), room.max(1));
        let marks = truncate(
            &row.marks,
            label.saturating_sub(prefix_width + width_of(&name)),
        );
        out.push_str(&row.prefix);
        if failed {
            let _ = write!(out, "{}{name}{}{marks}", paint.on(RED), paint.off());
        } else {
            let _ = write!(out, "{name}{marks}");
        }
        let used = prefix_width + width_of(&name) + width_of(&marks);
        out.push_str(&" ".repeat(label.saturating_sub(used) + 1));

        // The bar, then the ticks on it.
        let mut cells: Vec<(char, Option<&str>)> = vec![(' ', None); bar];
        let colour = if failed { RED } else { kind_colour(span.kind) };
        let (from, to, thin) = axis.span(span.start_unix_nano, span.end_unix_nano);
        for cell in &mut cells[from..to] {
            *cell = (if thin { THIN } else { FULL }, Some(colour));
        }
        for event in &span.events {
            let exception = event.name == "exception";
            exceptions |= exception;
            events |= !exception;
            let glyph = if exception { EXCEPTION } else { EVENT };
            let colour = if exception { RED } else { YELLOW };
            cells[axis.tick(event.time_unix_nano, span, from, to)] = (glyph, Some(colour));
        }
        for log in &span.logs {
            logs = true;
            let (glyph, colour) = if log.is_error() {
                (EXCEPTION, RED)
            } else {
                (LOG, YELLOW)
            };
            exceptions |= log.is_error();
            cells[axis.tick(log.time(), span, from, to)] = (glyph, Some(colour));
        }
        let end = cells
            .iter()
            .rposition(|(c, _)| *c != ' ')
            .map_or(0, |i| i + 1);
        let mut current: Option<&str> = None;
        for &(glyph, colour) in &cells[..end] {
            if options.color && colour != current {
                if current.is_some() {
                    out.push_str(RESET);
                }
                if let Some(c) = colour {
                    out.push_str(c);
                }
                current = colour;
            }
            out.push(glyph);
        }
        if current.is_some() {
            out.push_str(RESET);
        }
        out.push_str(&" ".repeat(bar - end));
        let _ = write!(out, " {:>DURATION_WIDTH$}", duration(span.duration_nanos()));
        if failed {
            let _ = write!(out, " {}{ERROR_MARK}{}", paint.on(RED), paint.off());
        }
        out.push('\n');
    }
    if !trace.logs.is_empty() {
        let _ = writeln!(
            out,
            "{LOG} {} log record{} of this trace with no span here",
            trace.logs.len(),
            if trace.logs.len() == 1 { "" } else { "s" }
        );
    }
    let legend: Vec<String> = [
        (events, format!("{EVENT} event")),
        (logs, format!("{LOG} log")),
        (exceptions || errors, format!("{EXCEPTION} exception/error")),
    ]
    .into_iter()
    .filter_map(|(used, text)| used.then_some(text))
    .collect();
    if !legend.is_empty() {
        let _ = writeln!(out, "{}{}{}", paint.on(DIM), legend.join("  "), paint.off());
    }
}

/// `[server, 2 links]`, or nothing for an internal span without links.
fn marks(span: &Span) -> String {
    let mut parts = Vec::new();
    if span.kind.is_marked() {
        parts.push(span.kind.as_str().to_owned());
    }
    match span.links.len() {
        0 => {}
        1 => parts.push("1 link".to_owned()),
        n => parts.push(format!("{n} links")),
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" [{}]", parts.join(", "))
    }
}

fn kind_colour(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Server | SpanKind::Consumer => "\x1b[32m",
        SpanKind::Client | SpanKind::Producer => "\x1b[35m",
        SpanKind::Internal | SpanKind::Unspecified => "\x1b[36m",
    }
}

/// A trace's time axis over `bar` cells.
struct Axis {
    start: u64,
    total: u64,
    bar: usize,
}

impl Axis {
    /// The cell that instant `t` falls in (clamped to the axis).
    fn column(&self, t: u64) -> usize {
        let offset = u128::from(t.saturating_sub(self.start));
        let col = offset * self.bar as u128 / u128::from(self.total.max(1));
        (col as usize).min(self.bar - 1)
    }

    /// The cell of a tick at `t` on `span`'s bar (cells `from..to`): on the
    /// bar when `t` is within the span, even where rounding would put it
    /// next to it.
    fn tick(&self, t: u64, span: &Span, from: usize, to: usize) -> usize {
        let col = self.column(t);
        if (span.start_unix_nano..=span.end_unix_nano).contains(&t) {
            col.clamp(from, to - 1)
        } else {
            col
        }
    }

    /// The cells a span covers, and whether it is thinner than half a cell
    /// (then it is one thin mark).
    fn span(&self, start: u64, end: u64) -> (usize, usize, bool) {
        let end = end.max(start);
        let total = u128::from(self.total.max(1));
        let from = self.column(start);
        let offset = u128::from(end.saturating_sub(self.start));
        let to = (offset * self.bar as u128).div_ceil(total) as usize;
        let to = to.clamp(from + 1, self.bar);
        let thin = u128::from(end - start) * self.bar as u128 * 2 < total;
        if thin {
            (from, from + 1, true)
        } else {
            (from, to, false)
        }
    }
}

/// Offsets along the axis: `0µs` at the left, the trace's duration at the
/// right, then the half and the quarters where they fit.
fn ruler(total: u64, bar: usize) -> String {
    let mut line: Vec<char> = vec![' '; bar];
    let mut taken = vec![false; bar];
    for quarter in [0, 4, 2, 1, 3] {
        let text: Vec<char> = duration(total * quarter / 4).chars().collect();
        let at = match quarter {
            0 => 0,
            4 => bar.saturating_sub(text.len()),
            _ => (bar * quarter as usize / 4).saturating_sub(text.len() / 2),
        };
        let end = at + text.len();
        // A label keeps one blank column on each side.
        if end > bar || taken[at.saturating_sub(1)..(end + 1).min(bar)].contains(&true) {
            continue;
        }
        line[at..end].copy_from_slice(&text);
        taken[at..end].iter_mut().for_each(|t| *t = true);
    }
    line.into_iter().collect::<String>().trim_end().to_owned()
}

/// Columns `s` takes (one per character: names are rarely wide script).
fn width_of(s: &str) -> usize {
    s.chars().count()
}

/// `s` cut to `width` columns, ending in `…` when cut.
fn truncate(s: &str, width: usize) -> String {
    if width_of(s) <= width {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// ANSI sequences, or nothing when colour is off.
#[derive(Clone, Copy)]
struct Paint(bool);

impl Paint {
    fn on(self, code: &'static str) -> &'static str {
        if self.0 { code } else { "" }
    }

    fn off(self) -> &'static str {
        if self.0 { RESET } else { "" }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::model::{Event, Link};
    use opentelemetry::trace::{SpanId, TraceId};

    const MS: u64 = 1_000_000;

    fn span(name: &str, id: u64, parent: u64, start_us: u64, end_us: u64) -> Span {
        let epoch = 1_700_000_000_000 * MS;
        Span::for_test(
            name,
            id,
            parent,
            epoch + start_us * 1000,
            epoch + end_us * 1000,
        )
    }

    /// A request served in 10 ms: a query (a client span with a link and an
    /// event) from 1 to 4.5 ms, rendering from 5 to 7.5 ms that fails with
    /// an exception, and a 2 µs cache lookup at 8 ms.
    fn known_trace() -> TraceSet {
        let mut root = span("GET /users", 1, 0, 0, 10_000);
        root.kind = SpanKind::Server;
        let mut query = span("query", 2, 1, 1_000, 4_500);
        query.kind = SpanKind::Client;
        query.links.push(Link {
            trace_id: TraceId::from(9u128),
            span_id: SpanId::from(9u64),
            trace_state: String::new(),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
        });
        query.events.push(Event {
            time_unix_nano: query.start_unix_nano + 2_000_000,
            name: "rows_fetched".into(),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
        });
        let mut render = span("render_template_with_a_very_long_name", 3, 1, 5_000, 7_500);
        render.status = Status::Error("template missing".into());
        render.events.push(Event {
            time_unix_nano: render.end_unix_nano,
            name: "exception".into(),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
        });
        let cache = span("cache.get", 4, 3, 8_000, 8_002);
        TraceSet::of(vec![cache, render, query, root])
    }

    #[test]
    fn renders_a_known_trace_exactly() {
        let text = render_waterfall(
            &known_trace(),
            &WaterfallOptions {
                width: 80,
                color: false,
            },
        );
        let expected = "\
trace 00000000000000000000000000000007  4 spans  10.00ms
                                 0µs   2.50ms   5.00ms        10.00ms
GET /users [server]              ████████████████████████████████████  10.00ms
├─ query [client, 1 link]           ███████◆██████                      3.50ms
└─ render_template_with_a_very_…                   ████████✗            2.50ms ✗
   └─ cache.get                                              ▏             2µs
◆ event  ✗ exception/error
";
        assert_eq!(text, expected, "\n{text}");
        assert!(text.lines().all(|l| l.chars().count() <= 80));
    }

    #[test]
    fn colours_kinds_errors_and_ticks() {
        let text = render_waterfall(
            &known_trace(),
            &WaterfallOptions {
                width: 80,
                color: true,
            },
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "\x1b[1mtrace 00000000000000000000000000000007\x1b[0m  4 spans  10.00ms"
        );
        // The server span's bar is green, the client's magenta with a
        // yellow event tick, the failed span red with a red exception tick
        // and a red mark, its name red.
        assert_eq!(
            lines[1],
            format!(
                "{}\x1b[2m0µs   2.50ms   5.00ms        10.00ms\x1b[0m",
                " ".repeat(33)
            )
        );
        assert_eq!(
            lines[2],
            format!(
                "GET /users [server]              \x1b[32m{}\x1b[0m  10.00ms",
                "█".repeat(36)
            )
        );
        assert!(
            lines[3].contains(" \x1b[35m███████\x1b[0m\x1b[33m◆\x1b[0m\x1b[35m██████\x1b[0m "),
            "{:?}",
            lines[3]
        );
        assert!(
            lines[4].starts_with("└─ \x1b[31mrender_template_with_a_very_…\x1b[0m "),
            "{:?}",
            lines[4]
        );
        assert!(
            lines[4].contains(" \x1b[31m████████✗\x1b[0m "),
            "{:?}",
            lines[4]
        );
        assert!(
            lines[4].ends_with("2.50ms \x1b[31m✗\x1b[0m"),
            "{:?}",
            lines[4]
        );
        // Without the escapes it is the plain rendering.
        let plain = strip_ansi(&text);
        let uncoloured = render_waterfall(
            &known_trace(),
            &WaterfallOptions {
                width: 80,
                color: false,
            },
        );
        assert_eq!(plain, uncoloured);
    }

    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn fits_narrow_and_wide_terminals() {
        for width in [40, 100, 200] {
            let text = render_waterfall(
                &known_trace(),
                &WaterfallOptions {
                    width,
                    color: false,
                },
            );
            for line in text.lines() {
                assert!(
                    line.chars().count() <= width.max(MIN_LABEL + MIN_BAR + 12),
                    "{width}: {line:?}"
                );
            }
            assert_eq!(text.lines().count(), 7, "{text}");
        }
    }

    #[test]
    fn deep_chains_keep_their_names_visible() {
        let chain = (1..=200u64).map(|i| span(&format!("level{i}"), i, i - 1, i, 1000 - i));
        let text = render_waterfall(
            &TraceSet::of(chain.collect()),
            &WaterfallOptions {
                width: 100,
                color: false,
            },
        );
        let last = text.lines().nth(201).unwrap();
        assert!(last.contains("[199] └─ level200"), "{last}");
        assert!(last.chars().count() <= 100, "{last}");
    }

    #[test]
    fn a_name_cannot_reach_the_terminal_raw() {
        let evil = TraceSet::of(vec![span("evil\x1b[2J", 1, 0, 0, 10)]);
        let text = render_waterfall(&evil, &WaterfallOptions::default());
        assert!(!text.contains('\x1b'), "{text:?}");
        assert!(text.contains("evil\\u{1b}[2J"), "{text}");
    }
}
