// The page's viewer: reads the trace data blocks written after this
// script (one per batch of finished traces), draws them as a virtualised
// waterfall (only the rows in view exist in the DOM, so 10,000 spans stay
// fast), and shows the selected span in the detail pane. Everything is
// built with DOM calls and textContent: names and values come from
// untrusted plugins and are never parsed as HTML.
"use strict";
(function () {
  const ROW = 24;          // px; matches --row in the stylesheet
  const OVERSCAN = 12;     // rows drawn above and below the viewport
  const MAX_TICKS = 64;    // event and log ticks drawn per row
  const INDENT = 14;       // px per level
  const MAX_INDENT = 40;   // levels drawn; deeper rows say their depth

  const traces = [];       // {id, start, duration, spans, resources, scopes, logs}
  let rows = [];           // what is drawn: {trace} or {trace, span, context}
  const collapsed = new Set();       // "t:i" of collapsed spans
  const collapsedTraces = new Set(); // t of collapsed traces
  const zoom = new Map();            // t -> {from, to}: the part of the trace drawn (ns offsets)
  let selected = null;               // {t, i} or {t} for a trace
  let query = "";
  let matchKeys = [];                // "t:i" of matching spans, in order
  let matchCursor = -1;
  let broken = 0;

  const $ = (id) => document.getElementById(id);

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // Durations as the terminal prints them: 660µs, 1.50ms, 2.00s.
  function duration(ns) {
    const us = ns / 1e3;
    if (us < 1000) return Math.round(us) + "µs";
    if (us < 1e6) return (us / 1e3).toFixed(2) + "ms";
    return (us / 1e6).toFixed(2) + "s";
  }

  // An absolute time (ns since the epoch, as a decimal string) in UTC with
  // nanoseconds.
  function timestamp(nsString) {
    try {
      const ns = BigInt(nsString);
      const ms = ns / 1000000n;
      const iso = new Date(Number(ms)).toISOString();
      const frac = (ns % 1000000000n).toString().padStart(9, "0");
      return iso.slice(0, 19) + "." + frac + "Z";
    } catch (e) {
      return String(nsString);
    }
  }

  function addOffset(startString, offsetNs) {
    try { return (BigInt(startString) + BigInt(Math.round(offsetNs))).toString(); }
    catch (e) { return startString; }
  }

  function load() {
    for (const block of document.querySelectorAll('script[type="application/vnd.wasmtrace+json"]')) {
      let data;
      try { data = JSON.parse(block.textContent); } catch (e) { broken++; continue; }
      for (const t of data.traces || []) {
        t.resources = data.resources || [];
        t.scopes = data.scopes || [];
        traces.push(t);
      }
      if (data.logs && data.logs.length) {
        traces.push({ id: null, start: "0", duration: 0, spans: [], logs: data.logs,
                      resources: data.resources || [], scopes: data.scopes || [] });
      }
    }
  }

  function key(t, i) { return t + ":" + i; }

  function spanCount() { return traces.reduce((n, t) => n + t.spans.length, 0); }

  // The haystack search looks in: name, ids, scope and every attribute as
  // key=value, lowercased once.
  function haystack(trace, span) {
    if (span._hay === undefined) {
      const parts = [span.name, span.id, span.kind];
      const scope = trace.scopes[span.scope];
      if (scope) parts.push(scope.name);
      for (const [k, v] of span.attrs) parts.push(k + "=" + v);
      for (const e of span.events) parts.push(e.name);
      for (const l of span.logs) parts.push(l.body);
      span._hay = parts.join("\n").toLowerCase();
    }
    return span._hay;
  }

  // Which rows are drawn: every trace, its spans in order, minus collapsed
  // subtrees; with a query, the matching spans and their ancestors.
  function buildRows() {
    rows = [];
    matchKeys = [];
    traces.forEach((trace, t) => {
      const spans = trace.spans;
      if (!query) {
        rows.push({ trace: t });
        if (collapsedTraces.has(t)) return;
        for (let i = 0; i < spans.length; i++) {
          rows.push({ trace: t, span: i });
          if (collapsed.has(key(t, i))) i = spans[i].subtree - 1;
        }
        return;
      }
      const keep = new Uint8Array(spans.length); // 1 context, 2 match
      for (let i = 0; i < spans.length; i++) {
        if (haystack(trace, spans[i]).includes(query)) {
          keep[i] = 2;
          for (let p = spans[i].parentIndex; p !== null && p !== undefined && !keep[p]; p = spans[p].parentIndex) keep[p] = 1;
        }
      }
      if (!keep.some((k) => k)) return;
      rows.push({ trace: t });
      for (let i = 0; i < spans.length; i++) {
        if (!keep[i]) continue;
        rows.push({ trace: t, span: i, context: keep[i] === 1 });
        if (keep[i] === 2) matchKeys.push(key(t, i));
      }
    });
    $("spacer").style.height = rows.length * ROW + "px";
    $("matches").textContent = query ? matchKeys.length + (matchKeys.length === 1 ? " match" : " matches") : "";
  }

  function isSelected(row) {
    if (!selected || selected.t !== row.trace) return false;
    return row.span === undefined ? selected.i === undefined : selected.i === row.span;
  }

  function draw() {
    const viewport = $("viewport");
    const height = viewport.clientHeight || window.innerHeight || 800;
    const first = Math.max(0, Math.floor(viewport.scrollTop / ROW) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((viewport.scrollTop + height) / ROW) + OVERSCAN);
    const box = $("rows");
    const fragment = document.createDocumentFragment();
    for (let r = first; r < last; r++) {
      const row = rows[r];
      const e = row.span === undefined ? traceRow(row.trace) : spanRow(row);
      e.style.top = r * ROW + "px";
      e.dataset.row = r;
      if (isSelected(row)) e.classList.add("sel");
      fragment.appendChild(e);
    }
    box.replaceChildren(fragment);
  }

  function traceRow(t) {
    const trace = traces[t];
    const e = el("div", "row trace");
    e.dataset.traceId = trace.id || "";
    const label = el("div", "label");
    const toggle = el("span", "toggle", collapsedTraces.has(t) ? "▸" : "▾");
    toggle.addEventListener("click", (ev) => {
      ev.stopPropagation();
      if (collapsedTraces.has(t)) collapsedTraces.delete(t); else collapsedTraces.add(t);
      refresh();
    });
    label.appendChild(toggle);
    const title = trace.id
      ? "trace " + trace.id.slice(0, 8) + "…  " + trace.spans.length + " span" + (trace.spans.length === 1 ? "" : "s") + "  " + duration(trace.duration)
      : trace.logs.length + " log records of no trace";
    if (zoom.has(t)) {
      e.classList.add("zoomed");
      const reset = el("button", "unzoom", "whole trace");
      reset.title = "Show the whole trace again (key: 0)";
      reset.addEventListener("click", (ev) => { ev.stopPropagation(); zoom.delete(t); draw(); });
      label.appendChild(reset);
    }
    label.appendChild(el("span", "name", title));
    label.title = trace.id ? "trace " + trace.id + " (click for its summary)" : "";
    e.appendChild(label);
    const lane = el("div", "lane ruler");
    if (trace.id) {
      const w = windowOf(t);
      for (let q = 0; q <= 4; q++) {
        const mark = el("span", null, duration(w.from + (w.to - w.from) * q / 4));
        mark.style.left = q * 25 + "%";
        if (q === 4) { mark.style.left = ""; mark.style.right = "2px"; }
        else if (q > 0) mark.style.transform = "translateX(-50%)";
        else mark.style.left = "2px";
        lane.appendChild(mark);
      }
    }
    e.appendChild(lane);
    e.appendChild(el("div", "dur"));
    e.addEventListener("click", () => select({ t }));
    return e;
  }

  // The part of trace `t` drawn: all of it, or what it was zoomed to.
  function windowOf(t) {
    return zoom.get(t) || { from: 0, to: traces[t].duration };
  }

  // Where instant `ns` (offset in its trace) falls across the lane, in %;
  // outside 0-100 when zoomed away from it (the lane clips).
  function percent(t, ns) {
    const w = windowOf(t);
    const width = w.to - w.from;
    if (!(width > 0)) return 0;
    return Math.min(1000, Math.max(-1000, (ns - w.from) / width * 100));
  }

  function zoomTo(t, i) {
    const span = traces[t].spans[i];
    const pad = Math.max((span.end - span.start) * 0.02, 1);
    zoom.set(t, { from: Math.max(0, span.start - pad), to: Math.min(traces[t].duration, span.end + pad) });
    draw();
  }

  function spanRow(row) {
    const t = row.trace, i = row.span;
    const trace = traces[t], span = trace.spans[i];
    const e = el("div", "row span");
    if (span.status === "error") e.classList.add("error");
    if (row.context) e.classList.add("context");
    else if (query) e.classList.add("match");
    e.dataset.spanId = span.id;
    e.dataset.index = i;
    e.dataset.depth = span.depth;

    const label = el("div", "label");
    const depth = Math.min(span.depth, MAX_INDENT);
    label.style.paddingLeft = (depth * INDENT + 4) + "px";
    const hasKids = span.subtree > i + 1;
    const toggle = el("span", "toggle", hasKids ? (collapsed.has(key(t, i)) ? "▸" : "▾") : "");
    if (hasKids && !query) {
      toggle.addEventListener("click", (ev) => { ev.stopPropagation(); toggleSpan(t, i); });
    }
    label.appendChild(toggle);
    if (span.depth > MAX_INDENT) label.appendChild(el("span", "kind", "[" + span.depth + "]"));
    label.appendChild(el("span", "name", span.name));
    if (span.kind !== "internal" && span.kind !== "unspecified") label.appendChild(el("span", "kind", span.kind));
    if (span.links.length) label.appendChild(el("span", "links", "⇢ " + span.links.length));
    label.title = span.name;
    e.appendChild(label);

    const lane = el("div", "lane");
    const bar = el("div", "bar " + span.kind + (span.status === "error" ? " error" : ""));
    const left = percent(t, span.start);
    bar.style.left = left.toFixed(4) + "%";
    bar.style.width = Math.max(0, percent(t, span.end) - left).toFixed(4) + "%";
    bar.title = span.name + "  " + duration(span.end - span.start) + "  at +" + duration(span.start);
    lane.appendChild(bar);
    let ticks = 0;
    for (const ev of span.events) {
      if (ticks++ >= MAX_TICKS) break;
      const tick = el("i", "tick " + (ev.name === "exception" ? "exception" : "event"));
      tick.style.left = percent(t, ev.t).toFixed(4) + "%";
      tick.title = ev.name + "  +" + duration(ev.t - span.start);
      lane.appendChild(tick);
    }
    for (const log of span.logs) {
      if (ticks++ >= MAX_TICKS) break;
      const tick = el("i", "tick " + (log.severityNumber >= 17 ? "log-error" : "log"));
      tick.style.left = percent(t, log.t).toFixed(4) + "%";
      tick.title = log.severity + " " + log.body;
      lane.appendChild(tick);
    }
    e.appendChild(lane);
    e.appendChild(el("div", "dur", duration(span.end - span.start)));
    e.addEventListener("click", () => select({ t, i }));
    e.addEventListener("dblclick", () => { if (hasKids && !query) toggleSpan(t, i); });
    return e;
  }

  function toggleSpan(t, i) {
    const k = key(t, i);
    if (collapsed.has(k)) collapsed.delete(k); else collapsed.add(k);
    refresh();
  }

  function refresh() { buildRows(); draw(); }

  function attr(list, k) {
    for (const [key, v] of list || []) if (key === k) return v;
    return undefined;
  }

  function serviceOf(trace, span) {
    const resource = span ? trace.resources[span.resource] : trace.resources[0];
    if (!resource) return "";
    const name = attr(resource.attrs, "service.name");
    const version = attr(resource.attrs, "service.version");
    return name ? name + (version ? " " + version : "") : "";
  }

  // --- the detail pane ---------------------------------------------------

  function table(list, emptyText) {
    if (!list || !list.length) return el("p", "empty", emptyText || "none");
    const tbl = el("table", "attrs");
    for (const [k, v, type] of list) {
      const tr = el("tr");
      tr.dataset.key = k;
      tr.appendChild(el("td", "k", k));
      tr.appendChild(el("td", "v", v));
      tr.appendChild(el("td", "t", type));
      tbl.appendChild(tr);
    }
    return tbl;
  }

  function section(pane, title, content) {
    pane.appendChild(el("h3", null, title));
    pane.appendChild(content);
  }

  function facts(pairs) {
    const tbl = el("table", "facts");
    for (const [k, v, node] of pairs) {
      if (v === undefined || v === null || v === "") continue;
      const tr = el("tr");
      tr.dataset.key = k;
      tr.appendChild(el("td", "k", k));
      const td = el("td", "v", node ? null : v);
      if (node) td.appendChild(node);
      tr.appendChild(td);
      tbl.appendChild(tr);
    }
    return tbl;
  }

  // A link that selects span `id` of trace `traceId` if the page has it.
  function jump(traceId, id) {
    const found = find(traceId, id);
    if (!found) return null;
    const a = el("a", "jump", id);
    a.addEventListener("click", () => { select(found); reveal(found); });
    return a;
  }

  function find(traceId, spanId) {
    for (let t = 0; t < traces.length; t++) {
      if (traceId && traces[t].id !== traceId) continue;
      const i = traces[t].spans.findIndex((s) => s.id === spanId);
      if (i >= 0) return { t, i };
    }
    return null;
  }

  function logItem(trace, log, from) {
    const item = el("div", "item" + (log.severityNumber >= 17 ? " error" : ""));
    const head = el("div", "item-head", log.severity + " " + log.body);
    if (log.t !== null && log.t !== undefined) head.appendChild(el("span", "at", "+" + duration(log.t - from)));
    item.appendChild(head);
    item.appendChild(facts([["time", log.time !== "0" ? timestamp(log.time) : ""], ["event", log.event],
      ["span", log.span], ["trace", log.trace]]));
    item.appendChild(table(log.attrs, "no attributes"));
    return item;
  }

  function showTrace(pane, trace) {
    pane.appendChild(el("h2", null, trace.id ? "trace " + trace.id : "log records of no trace"));
    if (trace.id) {
      const errors = trace.spans.filter((s) => s.status === "error").length;
      pane.appendChild(facts([["trace id", trace.id], ["start", timestamp(trace.start)],
        ["duration", duration(trace.duration)], ["spans", String(trace.spans.length)],
        ["errors", String(errors)]]));
      const seen = new Set(trace.spans.map((s) => s.resource));
      for (const r of seen) section(pane, "Resource", table(trace.resources[r] && trace.resources[r].attrs));
    }
    if (trace.logs.length) {
      const box = el("div");
      for (const log of trace.logs) box.appendChild(logItem(trace, log, 0));
      section(pane, "Log records (" + trace.logs.length + ")", box);
    }
  }

  function showSpan(pane, t, i) {
    const trace = traces[t], span = trace.spans[i];
    pane.dataset.spanId = span.id;
    pane.appendChild(el("h2", null, span.name));
    const badges = el("div");
    badges.appendChild(el("span", "badge", span.kind));
    badges.appendChild(el("span", "badge" + (span.status === "error" ? " error" : ""), span.status));
    const zoomButton = el("button", "zoom", "Zoom to span");
    zoomButton.title = "Draw the trace's time axis over this span only (key: z; 0 for the whole trace)";
    zoomButton.addEventListener("click", () => zoomTo(t, i));
    badges.appendChild(zoomButton);
    pane.appendChild(badges);
    if (span.message) pane.appendChild(el("p", "mono", span.message));

    const parent = span.parent ? (jump(trace.id, span.parent) || el("span", "mono", span.parent + (span.remoteParent ? " (remote)" : " (not in this file)"))) : null;
    section(pane, "Span", facts([
      ["span id", span.id], ["trace id", trace.id], ["parent", span.parent, parent],
      ["start", timestamp(addOffset(trace.start, span.start))],
      ["offset", "+" + duration(span.start)], ["duration", duration(span.end - span.start)],
      ["trace state", span.traceState],
      ["dropped", span.dropped.some((n) => n) ? span.dropped[0] + " attributes, " + span.dropped[1] + " events, " + span.dropped[2] + " links" : ""],
    ]));

    const scope = trace.scopes[span.scope] || { name: "", version: "", attrs: [] };
    section(pane, "Plugin", facts([
      ["scope", scope.name], ["version", scope.version],
      ["sha256", attr(span.attrs, "wasmtrace.component.sha256")],
      ["instance", attr(span.attrs, "wasmtrace.instance.id")],
      ["service", serviceOf(trace, span)],
    ]));
    if (scope.attrs.length) section(pane, "Scope attributes", table(scope.attrs));

    const attrsBox = table(span.attrs, "no attributes");
    attrsBox.id = "span-attributes";
    section(pane, "Attributes (" + span.attrs.length + ")", attrsBox);

    if (span.events.length) {
      const box = el("div");
      for (const ev of span.events) {
        const item = el("div", "item" + (ev.name === "exception" ? " error" : ""));
        const head = el("div", "item-head", ev.name);
        head.appendChild(el("span", "at", "+" + duration(ev.t - span.start)));
        item.appendChild(head);
        item.appendChild(table(ev.attrs, "no attributes"));
        box.appendChild(item);
      }
      section(pane, "Events (" + span.events.length + ")", box);
    }
    if (span.links.length) {
      const box = el("div");
      for (const link of span.links) {
        const item = el("div", "item");
        item.appendChild(facts([["trace", link.trace], ["span", link.span, jump(link.trace, link.span)],
          ["trace state", link.traceState]]));
        item.appendChild(table(link.attrs, "no attributes"));
        box.appendChild(item);
      }
      section(pane, "Links (" + span.links.length + ")", box);
    }
    if (span.logs.length) {
      const box = el("div");
      for (const log of span.logs) box.appendChild(logItem(trace, log, span.start));
      section(pane, "Log records (" + span.logs.length + ")", box);
    }
    const resource = trace.resources[span.resource];
    section(pane, "Resource", table(resource && resource.attrs));
  }

  function select(target) {
    selected = target;
    const pane = $("detail");
    pane.replaceChildren();
    delete pane.dataset.spanId;
    const trace = traces[target.t];
    if (target.i === undefined) showTrace(pane, trace);
    else {
      showSpan(pane, target.t, target.i);
      const hash = new URLSearchParams({ span: trace.spans[target.i].id });
      if (query) hash.set("q", $("search").value.trim());
      try { history.replaceState(null, "", "#" + hash); } catch (e) { /* file:// may refuse */ }
    }
    draw();
  }

  // Scrolls `target` into view, expanding what hides it.
  function reveal(target) {
    const trace = traces[target.t];
    collapsedTraces.delete(target.t);
    for (let p = trace.spans[target.i].parentIndex; p !== null && p !== undefined; p = trace.spans[p].parentIndex) {
      collapsed.delete(key(target.t, p));
    }
    buildRows();
    const r = rows.findIndex((row) => row.trace === target.t && row.span === target.i);
    const viewport = $("viewport");
    if (r >= 0) {
      const top = r * ROW;
      if (top < viewport.scrollTop || top + ROW > viewport.scrollTop + viewport.clientHeight) {
        viewport.scrollTop = Math.max(0, top - viewport.clientHeight / 3);
      }
    }
    draw();
  }

  function visibleSpanRows() { return rows.filter((r) => r.span !== undefined); }

  function moveSelection(step) {
    const list = visibleSpanRows();
    if (!list.length) return;
    let at = selected ? list.findIndex((r) => r.trace === selected.t && r.span === selected.i) : -1;
    at = Math.min(list.length - 1, Math.max(0, at + step));
    const target = { t: list[at].trace, i: list[at].span };
    select(target);
    reveal(target);
  }

  function identity() {
    const box = $("identity");
    const services = new Map(), plugins = new Map();
    for (const trace of traces) {
      for (const span of trace.spans) {
        const service = serviceOf(trace, span);
        if (service) services.set(service, true);
        const scope = trace.scopes[span.scope];
        if (!scope || scope.name === "wasmtrace") continue;
        const id = scope.name + "@" + scope.version;
        if (!plugins.has(id)) plugins.set(id, { scope, sha: attr(span.attrs, "wasmtrace.component.sha256") });
      }
    }
    for (const service of services.keys()) {
      const chip = el("span", "chip");
      chip.appendChild(el("span", null, "service "));
      chip.appendChild(el("b", null, service));
      box.appendChild(chip);
    }
    for (const { scope, sha } of plugins.values()) {
      const chip = el("span", "chip plugin");
      chip.appendChild(el("span", null, "plugin "));
      chip.appendChild(el("b", null, scope.name + (scope.version ? " " + scope.version : "")));
      if (sha) { chip.appendChild(el("span", "mono", " sha256 " + sha.slice(0, 12) + "…")); chip.title = "sha256 " + sha; }
      box.appendChild(chip);
    }
  }

  function start() {
    const began = performance.now();
    load();
    // Parent indices, so that search can keep a match's ancestors.
    for (const trace of traces) {
      const stack = [];
      trace.spans.forEach((span, i) => {
        stack.length = span.depth;
        span.parentIndex = span.depth > 0 ? stack[span.depth - 1] : null;
        stack.push(i);
      });
    }
    const count = spanCount();
    const real = traces.filter((t) => t.id).length;
    $("summary").textContent = real + " trace" + (real === 1 ? "" : "s") + ", " + count + " span" + (count === 1 ? "" : "s");
    if (broken) {
      const warning = $("warning");
      warning.hidden = false;
      warning.textContent = broken + " data block" + (broken === 1 ? " is" : "s are") + " incomplete (the process writing this file stopped mid-write); the rest is shown.";
    }
    identity();
    buildRows();
    draw();

    const viewport = $("viewport");
    viewport.addEventListener("scroll", () => window.requestAnimationFrame(draw), { passive: true });
    window.addEventListener("resize", () => window.requestAnimationFrame(draw));
    let pending = 0;
    const search = $("search");
    search.addEventListener("input", () => {
      window.clearTimeout(pending);
      pending = window.setTimeout(() => {
        query = search.value.trim().toLowerCase();
        matchCursor = -1;
        viewport.scrollTop = 0;
        refresh();
      }, 120);
    });
    search.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && matchKeys.length) {
        matchCursor = (matchCursor + (ev.shiftKey ? matchKeys.length - 1 : 1)) % matchKeys.length;
        const [t, i] = matchKeys[matchCursor].split(":").map(Number);
        select({ t, i });
        reveal({ t, i });
      } else if (ev.key === "Escape") {
        search.value = ""; query = ""; refresh();
      }
    });
    $("expand-all").addEventListener("click", () => { collapsed.clear(); collapsedTraces.clear(); refresh(); });
    $("collapse-all").addEventListener("click", () => {
      traces.forEach((trace, t) => trace.spans.forEach((s, i) => { if (s.depth === 0 && s.subtree > i + 1) collapsed.add(key(t, i)); }));
      refresh();
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.target === search) return;
      if (ev.key === "/") { ev.preventDefault(); search.focus(); }
      else if (ev.key === "ArrowDown" || ev.key === "j") { ev.preventDefault(); moveSelection(1); }
      else if (ev.key === "ArrowUp" || ev.key === "k") { ev.preventDefault(); moveSelection(-1); }
      else if (ev.key === "z" && selected && selected.i !== undefined) zoomTo(selected.t, selected.i);
      else if (ev.key === "0" && selected) { zoom.delete(selected.t); draw(); }
      else if ((ev.key === "ArrowLeft" || ev.key === "ArrowRight") && selected && selected.i !== undefined) {
        ev.preventDefault();
        const k = key(selected.t, selected.i);
        if (ev.key === "ArrowLeft") collapsed.add(k); else collapsed.delete(k);
        refresh();
      }
    });

    // The fragment: `q=<text>` searches, `span=<id>` (or `<trace id>-<span
    // id>`) selects a span, so that a link can show either.
    const params = new URLSearchParams(location.hash.slice(1));
    if (params.get("q")) {
      search.value = params.get("q");
      query = search.value.trim().toLowerCase();
      buildRows();
      draw();
    }
    const wanted = /^(?:([0-9a-f]{32})-)?([0-9a-f]{16})$/i.exec(params.get("span") || "");
    if (wanted) {
      const found = find(wanted[1] && wanted[1].toLowerCase(), wanted[2].toLowerCase());
      if (found) { select(found); reveal(found); }
    }
    document.body.dataset.spans = count;
    document.body.dataset.traces = real;
    document.body.dataset.brokenBlocks = broken;
    document.body.dataset.renderMs = Math.round(performance.now() - began);
    document.body.dataset.state = "ready";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
