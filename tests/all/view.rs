//! Seeing traces without a backend (issue 17), through the `wasmtrace`
//! binary on real plugins: the console waterfall of the embedded default,
//! `wasmtrace view` of an `--export-json` file (the same spans, ids,
//! attributes and parents as the live console), malformed lines, and the
//! `--export-html` page opened in headless Chromium (every span drawn in
//! order on the trace's time axis, the detail pane of a chosen span, a page
//! cut short by `serve` stopping, 10,000 spans).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use wasmtrace_test_artifacts::{CIRCUIT_BREAKER, QUICKSTART, TRACE_CONTEXT_SERVICE};
use wasmtrace_test_support::client::{self, kv};
use wasmtrace_test_support::{AttrValue, OtlpReceiver, ReceivedSpan};

use crate::cli::{run_failing_quickstart, wasmtrace};
use crate::hostile::spans_in_json_file;

/// A scratch path unique to this test process and `name`.
fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("wasmtrace-view-{}-{name}", std::process::id()))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The console's drawing of the run: stderr without the summary lines the
/// CLI adds after it.
fn console_part(out: &Output) -> String {
    let stderr = text(&out.stderr);
    // The traces, without the metrics printed after them (`view` draws no
    // metrics), the summary or the CLI's error line.
    let mut in_metrics = false;
    stderr
        .lines()
        .filter(|l| {
            in_metrics =
                (in_metrics || l.starts_with("metrics of ")) && !l.starts_with("tracing: ");
            !in_metrics && !l.starts_with("tracing: ") && !l.starts_with("error: ")
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `spans` in the order every view draws them: roots (parent absent or not
/// here) by start time, each followed by its children by start time, depth
/// first; with each span's depth.
fn display_order(spans: &[ReceivedSpan]) -> Vec<(&ReceivedSpan, usize)> {
    let mut sorted: Vec<&ReceivedSpan> = spans.iter().collect();
    sorted.sort_by_key(|s| s.start_time_unix_nano);
    let ids: std::collections::HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let children = |id: Option<&str>| -> Vec<&ReceivedSpan> {
        sorted
            .iter()
            .copied()
            .filter(|s| match (s.parent_span_id.as_deref(), id) {
                (Some(p), Some(id)) => p == id,
                (p, None) => p.is_none_or(|p| !ids.contains(p)),
                (None, Some(_)) => false,
            })
            .collect()
    };
    let mut order = Vec::new();
    let mut stack: Vec<(&ReceivedSpan, usize)> =
        children(None).into_iter().rev().map(|s| (s, 0)).collect();
    while let Some((span, depth)) = stack.pop() {
        order.push((span, depth));
        for kid in children(Some(&span.span_id)).into_iter().rev() {
            stack.push((kid, depth + 1));
        }
    }
    order
}

#[test]
fn the_embedded_default_draws_a_waterfall_fitted_to_columns() {
    let out = wasmtrace(
        &["run", QUICKSTART, "--input", "one two three"],
        &[("COLUMNS", "90".to_owned())],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let drawn = console_part(&out);
    let lines: Vec<&str> = drawn.lines().collect();
    assert!(
        lines[0].starts_with("trace ") && lines[0].contains("  5 spans  "),
        "{drawn}"
    );
    assert!(
        lines[1].trim_start().starts_with("0µs"),
        "the ruler: {drawn}"
    );
    for (line, name) in lines[2..].iter().zip([
        "invoke quickstart",
        "└─ handle_request",
        "   ├─ validate_request",
        "   ├─ process_business_logic",
        "   └─ send_response",
    ]) {
        assert!(line.starts_with(name), "{name:?} in:\n{drawn}");
        // A short bar may be a single cell, drawn as the event or log
        // record's mark that falls on it.
        assert!(
            ['█', '▏', '◆', '▪', '✗'].iter().any(|c| line.contains(*c)),
            "a bar on {line:?}"
        );
    }
    assert_eq!(lines.last(), Some(&"◆ event  ▪ log"), "{drawn}");
    assert!(
        lines.iter().all(|l| l.chars().count() <= 90),
        "fits 90 columns:\n{drawn}"
    );
    assert!(!drawn.contains('\x1b'), "no colour off a terminal");

    // The tree is one flag or one variable away.
    for (args, env) in [
        (vec!["--console", "tree"], vec![]),
        (vec![], vec![("WASMTRACE_CONSOLE", "tree".to_owned())]),
    ] {
        let mut argv = vec!["run", QUICKSTART, "--input", "one two three"];
        argv.extend(args);
        let out = wasmtrace(&argv, &env);
        let drawn = console_part(&out);
        assert!(
            drawn.contains("└─ invoke quickstart  ") && drawn.contains("items_processed=3"),
            "{drawn}"
        );
    }
    let out = wasmtrace(&["run", QUICKSTART, "--console", "bars"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn view_round_trips_an_export_json_file() {
    for format in ["tree", "waterfall"] {
        let file = scratch(&format!("round-trip-{format}.json"));
        let env = [
            ("WASMTRACE_CONSOLE", format.to_owned()),
            ("COLUMNS", "120".to_owned()),
        ];
        let run = run_failing_quickstart(&file, &[], &env);
        assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
        let live = console_part(&run);
        let view = wasmtrace(&["view", file.to_str().unwrap()], &env);
        assert!(view.status.success(), "{}", text(&view.stderr));
        assert_eq!(
            text(&view.stdout),
            live,
            "{format}: the file drawn as the run drew it"
        );
    }

    // Every span of the file, with its id, its attributes and its place
    // under its parent, read independently of the viewer.
    let file = scratch("round-trip-tree.json");
    let spans = spans_in_json_file(&file);
    assert_eq!(spans.len(), 3);
    let view = wasmtrace(&["view", "--verbose", file.to_str().unwrap()], &[]);
    assert!(view.status.success(), "{}", text(&view.stderr));
    let drawn = text(&view.stdout);
    let span_lines: Vec<&str> = drawn.lines().filter(|l| l.contains("  span=")).collect();
    let order = display_order(&spans);
    assert_eq!(span_lines.len(), order.len(), "{drawn}");
    for ((span, depth), line) in order.iter().zip(&span_lines) {
        let branch = line.find(['├', '└']).expect("a branch glyph");
        assert_eq!(
            line[..branch].chars().count() / 3,
            *depth,
            "{} at depth {depth}: {line}",
            span.name
        );
        assert!(
            line[branch..].contains(&format!("─ {}  ", span.name))
                && line.contains(&format!("  span={}", span.span_id)),
            "{line}"
        );
        for (key, value) in &span.attributes {
            let value = match value {
                AttrValue::String(s) => format!("{s:?}"),
                AttrValue::Int(i) => i.to_string(),
                AttrValue::Bool(b) => b.to_string(),
                AttrValue::Double(d) => d.to_string(),
                AttrValue::Array(_) => continue,
                other => panic!("{key}: {other:?}"),
            };
            assert!(
                line.contains(&format!("  {key}={value}")),
                "{key}={value} on {line}"
            );
        }
    }
    assert!(drawn.contains("• exception +"), "{drawn}");
}

#[test]
fn view_reports_a_malformed_line_by_number_and_draws_the_rest() {
    let file = scratch("malformed-source.json");
    let run = wasmtrace(
        &[
            "run",
            QUICKSTART,
            "--input",
            "a b",
            "--export-json",
            file.to_str().unwrap(),
        ],
        &[],
    );
    assert!(run.status.success(), "{}", text(&run.stderr));
    let good = std::fs::read_to_string(&file).unwrap();
    let names: Vec<String> = spans_in_json_file(&file)
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names.len(), 5);
    let first = good.lines().next().unwrap();
    // Line 2 is not JSON, line 3 is an export request cut short (a writer
    // killed mid-line), line 4 is JSON of the wrong shape; the file's own
    // lines come after, with a field from a future version added.
    let bad = format!(
        "{first}\n{{not json\n{}\n{{\"resourceSpans\": 7}}\n{}",
        &first[..first.len() / 2],
        good.replacen("\"name\"", "\"futureField\":{\"x\":[1]},\"name\"", 1)
    );
    let path = scratch("malformed.json");
    std::fs::write(&path, bad).unwrap();
    let view = wasmtrace(&["view", "--format", "tree", path.to_str().unwrap()], &[]);
    let err = text(&view.stderr);
    assert_eq!(view.status.code(), Some(1), "{err}");
    let name = path.display();
    for line in [2, 3, 4] {
        assert!(
            err.contains(&format!("warning: {name}: line {line} skipped: ")),
            "line {line} in:\n{err}"
        );
    }
    assert!(
        !err.contains("line 1 ") && !err.contains("line 5 "),
        "{err}"
    );
    assert!(err.contains("3 of "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let drawn = text(&view.stdout);
    for name in &names {
        assert!(
            drawn.contains(&format!("─ {name}  ")),
            "{name} in:\n{drawn}"
        );
    }

    let out = wasmtrace(&["view", "/nonexistent/spans.json"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: cannot read /nonexistent/spans.json"),
        "{}",
        text(&out.stderr)
    );
}

// ---------------------------------------------------------------------------
// The HTML page in a real browser.

/// Headless Chromium (Debian's `chromium`), or `None` after saying why the
/// test is skipped.
fn chromium(test: &str) -> Option<&'static str> {
    for name in ["chromium", "chromium-browser"] {
        let found = Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if found.is_ok_and(|s| s.success()) {
            return Some(name);
        }
    }
    eprintln!("SKIPPED {test}: chromium is not installed (apt-get install chromium)");
    None
}

/// Loads `page` (with URL fragment `fragment`) in headless Chromium and
/// returns the DOM once the page has loaded, as its script left it.
fn dump_dom(browser: &str, page: &Path, fragment: &str) -> String {
    let profile = scratch(&format!("chromium-profile-{}", fragment.len()));
    let url = format!("file://{}{fragment}", page.display());
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting chromium");
    let read = |mut pipe: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish loading {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = text(&stdout.join().unwrap());
    assert!(
        status.success() && dom.contains("data-state=\"ready\""),
        "chromium on {url}: {status}\n{}\n{}",
        text(&stderr.join().unwrap()),
        &dom[..dom.len().min(2000)]
    );
    let _ = std::fs::remove_dir_all(&profile);
    dom
}

/// The value of attribute `name` in the first tag of `html`.
fn attr<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let tag_end = html.find('>')?;
    let tag = &html[..tag_end];
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = tag[start..].find('"')?;
    Some(&tag[start..start + len])
}

/// A span row the page drew: its span id and its bar's `left` and `width`
/// (in % of the trace's time axis).
#[derive(Debug)]
struct DrawnRow {
    span_id: String,
    depth: usize,
    name: String,
    left: f64,
    width: f64,
}

fn drawn_rows(dom: &str) -> Vec<DrawnRow> {
    dom.split("<div class=\"row span")
        .skip(1)
        .map(|chunk| {
            let chunk = &chunk[chunk.find(' ').unwrap_or(0)..];
            let percent = |style: &str, key: &str| -> f64 {
                let at = style.find(&format!("{key}: ")).expect(key) + key.len() + 2;
                style[at..style[at..].find('%').unwrap() + at]
                    .parse()
                    .unwrap()
            };
            let bar = &chunk[chunk.find("<div class=\"bar").expect("a bar")..];
            let style = attr(bar, "style").expect("the bar's style");
            let name_at = chunk.find("<span class=\"name\">").expect("a name") + 19;
            DrawnRow {
                span_id: attr(chunk, "data-span-id").unwrap().to_owned(),
                depth: attr(chunk, "data-depth").unwrap().parse().unwrap(),
                name: chunk[name_at..name_at + chunk[name_at..].find('<').unwrap()].to_owned(),
                left: percent(style, "left"),
                width: percent(style, "width"),
            }
        })
        .collect()
}

/// What the page shows for attributes: strings as they are, the rest as
/// the terminal prints them.
fn shown(value: &AttrValue) -> String {
    match value {
        AttrValue::String(s) => s.clone(),
        AttrValue::Int(i) => i.to_string(),
        AttrValue::Bool(b) => b.to_string(),
        AttrValue::Double(d) => d.to_string(),
        AttrValue::Array(items) => format!(
            "[{}]",
            items
                .iter()
                .map(|v| match v {
                    AttrValue::String(s) => format!("{s:?}"),
                    other => shown(other),
                })
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => panic!("{other:?}"),
    }
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Asserts `dom` draws every span of `spans` in display order, each bar
/// where its span sits on its trace's time axis.
fn assert_drawn_in_order(dom: &str, spans: &[ReceivedSpan]) {
    let rows = drawn_rows(dom);
    let order = display_order(spans);
    let drawn: Vec<(&str, usize)> = rows.iter().map(|r| (r.span_id.as_str(), r.depth)).collect();
    let expected: Vec<(&str, usize)> = order
        .iter()
        .map(|(s, d)| (s.span_id.as_str(), *d))
        .collect();
    assert_eq!(drawn, expected, "{rows:#?}");
    let start = spans.iter().map(|s| s.start_time_unix_nano).min().unwrap();
    let end = spans.iter().map(|s| s.end_time_unix_nano).max().unwrap();
    let total = (end - start) as f64;
    for (row, (span, _)) in rows.iter().zip(&order) {
        assert_eq!(row.name, html_escape(&span.name));
        let left = (span.start_time_unix_nano - start) as f64 / total * 100.0;
        let width = (span.end_time_unix_nano - span.start_time_unix_nano) as f64 / total * 100.0;
        assert!(
            (row.left - left).abs() < 0.001 && (row.width - width).abs() < 0.001,
            "{}: drawn at {}% +{}%, sits at {left}% +{width}%",
            span.name,
            row.left,
            row.width
        );
    }
}

#[test]
fn the_html_export_of_a_real_run_draws_every_span_and_details_one() {
    let Some(browser) = chromium("the_html_export_of_a_real_run_draws_every_span_and_details_one")
    else {
        return;
    };
    let (json, page) = (scratch("real-run.json"), scratch("real-run.html"));
    let out = wasmtrace(
        &[
            "run",
            CIRCUIT_BREAKER,
            "--export-json",
            json.to_str().unwrap(),
            "--export-html",
            page.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let spans = spans_in_json_file(&json);
    assert!(spans.len() > 10, "{}", spans.len());
    let chosen = spans
        .iter()
        .find(|s| s.name == "charge_payments")
        .expect("charge_payments");
    let dom = dump_dom(browser, &page, &format!("#span={}", chosen.span_id));
    assert!(
        dom.contains(&format!("data-spans=\"{}\"", spans.len())),
        "the page counts every span"
    );
    assert!(dom.contains("data-broken-blocks=\"0\""));
    assert_drawn_in_order(&dom, &spans);

    // The detail pane shows the chosen span: every attribute with its
    // value, and the plugin's identity.
    let pane_at = dom.find("<aside id=\"detail\"").expect("the detail pane");
    let pane = &dom[pane_at..dom[pane_at..].find("</aside>").unwrap() + pane_at];
    assert_eq!(
        attr(pane, "data-span-id"),
        Some(chosen.span_id.as_str()),
        "{pane}"
    );
    assert!(pane.contains("<h2>charge_payments</h2>"), "{pane}");
    assert!(chosen.attributes.len() >= 3, "{:?}", chosen.attributes);
    for (key, value) in &chosen.attributes {
        let row = format!(
            "<tr data-key=\"{key}\"><td class=\"k\">{key}</td><td class=\"v\">{}</td><td class=\"t\">{}</td></tr>",
            html_escape(&shown(value)),
            value.type_name()
        );
        assert!(pane.contains(&row), "{row} in:\n{pane}");
    }
    let sha = chosen
        .attr("wasmtrace.component.sha256")
        .and_then(AttrValue::as_str)
        .unwrap();
    for (key, value) in [
        ("scope", "circuit-breaker"),
        ("version", chosen.scope.version.as_str()),
        ("sha256", sha),
    ] {
        let row = format!(
            "<tr data-key=\"{key}\"><td class=\"k\">{key}</td><td class=\"v\">{value}</td></tr>"
        );
        assert!(pane.contains(&row), "{row} in:\n{pane}");
    }
    // Events are listed with their attributes; the resource is shown.
    for event in &chosen.events {
        assert!(
            pane.contains(&format!(
                "<div class=\"item-head\">{}<span class=\"at\">",
                event.name
            )),
            "{} in:\n{pane}",
            event.name
        );
    }
    assert!(
        pane.contains("<td class=\"v\">wasmtrace</td>"),
        "service.name: {pane}"
    );
    // The header names the plugin.
    assert!(
        dom.contains("<b>circuit-breaker 0.1.0</b>"),
        "the plugin's identity"
    );

    // Searching an attribute draws the spans that have it, marked, under
    // their ancestors.
    let dom = dump_dom(browser, &page, "#q=http.response.status_code%3D503");
    let failed: Vec<&ReceivedSpan> = spans
        .iter()
        .filter(|s| s.attr("http.response.status_code") == Some(&AttrValue::Int(503)))
        .collect();
    assert!(!failed.is_empty());
    let by_id: std::collections::HashMap<&str, &ReceivedSpan> =
        spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut ancestors = std::collections::HashSet::new();
    for span in &failed {
        let mut parent = span.parent_span_id.as_deref();
        while let Some(id) = parent {
            ancestors.insert(id);
            parent = by_id.get(id).and_then(|s| s.parent_span_id.as_deref());
        }
    }
    let expected: Vec<(&str, bool)> = display_order(&spans)
        .into_iter()
        .map(|(s, _)| s.span_id.as_str())
        .filter(|id| ancestors.contains(id) || failed.iter().any(|f| f.span_id == *id))
        .map(|id| (id, !ancestors.contains(id)))
        .collect();
    let drawn: Vec<(String, bool)> = dom
        .split("<div class=\"row span")
        .skip(1)
        .map(|chunk| {
            let classes = &chunk[..chunk.find('"').unwrap()];
            let id = attr(&chunk[chunk.find(' ').unwrap()..], "data-span-id").unwrap();
            (id.to_owned(), classes.contains("match"))
        })
        .collect();
    let drawn: Vec<(&str, bool)> = drawn.iter().map(|(id, m)| (id.as_str(), *m)).collect();
    assert_eq!(drawn, expected);
    assert!(
        dom.contains(&format!(
            "<span id=\"matches\">{} matches</span>",
            failed.len()
        )),
        "the match count"
    );
}

#[test]
fn the_html_export_of_serve_is_whole_after_sigterm_and_sigint() {
    let Some(browser) = chromium("the_html_export_of_serve_is_whole_after_sigterm_and_sigint")
    else {
        return;
    };
    for signal in ["TERM", "INT"] {
        let page = scratch(&format!("serve-{signal}.html"));
        let rx = OtlpReceiver::start().unwrap();
        let mut served = crate::serve::Served::plugin(
            TRACE_CONTEXT_SERVICE,
            &["--export-html", page.to_str().unwrap()],
            &rx,
        );
        for path in ["/a", "/b"] {
            assert_eq!(served.get(path).0, 404, "{}", served.stderr());
        }
        served.stop(signal);
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(
            html.ends_with("</body>\n</html>\n"),
            "{signal}: the page is ended"
        );
        // The server flushed before it exited: the collector has them all.
        let spans = rx
            .wait_for_spans(
                |s| s.iter().filter(|s| s.name == "GET").count() == 2,
                Duration::from_secs(20),
            )
            .unwrap_or_else(|e| panic!("{e}\n{}", served.stderr()));
        let dom = dump_dom(browser, &page, "");
        assert!(
            dom.contains(&format!("data-spans=\"{}\"", spans.len())),
            "{signal}: every span the collector got is on the page"
        );
        assert!(dom.contains("data-traces=\"2\""), "{signal}");
        assert!(
            dom.contains("<span class=\"name\">GET</span><span class=\"kind\">server</span>"),
            "{signal}: the server spans, marked"
        );
    }
}

#[test]
fn the_html_page_of_10000_spans_keeps_a_small_dom() {
    let Some(browser) = chromium("the_html_page_of_10000_spans_keeps_a_small_dom") else {
        return;
    };
    // One root, 100 children, 99 grandchildren each: 10,001 spans over 10 s.
    let trace = [7u8; 16];
    let id = |n: u64| n.to_be_bytes();
    let t0 = 1_700_000_000_000_000_000u64;
    let mut spans = Vec::with_capacity(10_001);
    let mut names = vec!["root".to_owned()];
    let mut root = client::span("root", trace, id(1), None);
    (root.start_time_unix_nano, root.end_time_unix_nano) = (t0, t0 + 10_000_000_000);
    spans.push(root);
    for c in 0..100u64 {
        let child_id = 2 + c * 100;
        let mut child = client::span(&format!("child-{c}"), trace, id(child_id), Some(id(1)));
        child.start_time_unix_nano = t0 + c * 100_000_000;
        child.end_time_unix_nano = child.start_time_unix_nano + 99_000_000;
        child.attributes = vec![kv("child.index", c as i64)];
        names.push(child.name.clone());
        for g in 0..99u64 {
            let mut grandchild = client::span(
                &format!("grandchild-{c}-{g}"),
                trace,
                id(child_id + 1 + g),
                Some(id(child_id)),
            );
            grandchild.start_time_unix_nano = child.start_time_unix_nano + g * 1_000_000;
            grandchild.end_time_unix_nano = grandchild.start_time_unix_nano + 900_000;
            names.push(grandchild.name.clone());
            spans.push(grandchild);
        }
        spans.push(child);
    }
    let last = spans
        .iter()
        .find(|s| s.name == "grandchild-99-98")
        .map(|s| hex::encode(&s.span_id))
        .unwrap();
    let json = scratch("10000.json");
    let request = client::request("big", "big-plugin", spans);
    std::fs::write(&json, serde_json::to_string(&request).unwrap() + "\n").unwrap();
    let page = scratch("10000.html");
    let out = wasmtrace(
        &[
            "view",
            json.to_str().unwrap(),
            "--html",
            page.to_str().unwrap(),
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("1 trace(s), 10001 span(s)"));

    // The last span, deep-linked: the page scrolls to it and details it,
    // with only the rows in view in the DOM.
    let dom = dump_dom(browser, &page, &format!("#span={last}"));
    assert!(dom.contains("data-spans=\"10001\""));
    let rows = drawn_rows(&dom);
    assert!(
        rows.len() < 150,
        "{} span rows in the DOM for 10,000 spans",
        rows.len()
    );
    assert!(
        rows.iter().any(|r| r.span_id == last),
        "the linked span is in view"
    );
    let pane = &dom[dom.find("<aside id=\"detail\"").expect("the detail pane")..];
    assert_eq!(attr(pane, "data-span-id"), Some(last.as_str()));
    let render_ms: u64 = attr(&dom[dom.find("<body").unwrap()..], "data-render-ms")
        .unwrap()
        .parse()
        .unwrap();
    eprintln!("10,000 spans: the page was ready in {render_ms} ms");
    assert!(render_ms < 20_000, "{render_ms} ms to draw 10,000 spans");
    // The rows in the DOM are the last ones, in display order.
    let drawn: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(drawn, names[names.len() - drawn.len()..], "{drawn:?}");
}
