/* evalkit report: renders the data files written by `evalkit view` (data/*.js call EK.put).
   No server, no network: data files are loaded as <script> tags, which file:// pages may do. */
"use strict";

const EK = {
  data: {}, waiting: {}, index: null, state: { shown: 200 },
  put(name, value) {
    EK.data[name] = value;
    if (name === "index") { EK.index = value; EK.route(); }
    (EK.waiting[name] || []).forEach((done) => done(value));
    delete EK.waiting[name];
  },
  load(name, done) {
    if (name in EK.data) { done(EK.data[name]); return; }
    if (EK.waiting[name]) { EK.waiting[name].push(done); return; }
    EK.waiting[name] = [done];
    const tag = document.createElement("script");
    tag.src = "data/" + name + ".js";
    tag.onerror = () => { const app = document.getElementById("app"); app.prepend(h("p", { class: "note bad" }, "Could not load data/" + name + ".js")); };
    document.body.appendChild(tag);
  },
};
window.EK = EK;

function h(tag, attrs, ...children) { return make("http://www.w3.org/1999/xhtml", tag, attrs, children); }
function fill(el, ...children) { el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false)); }
function sv(tag, attrs, ...children) { return make("http://www.w3.org/2000/svg", tag, attrs, children); }
function make(ns, tag, attrs, children) {
  const el = document.createElementNS(ns, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v); else el.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function params() {
  const out = {};
  for (const part of location.hash.replace(/^#\/?/, "").split("&")) {
    if (!part) continue;
    const [k, v] = part.split("=");
    out[decodeURIComponent(k)] = v === undefined ? "" : decodeURIComponent(v);
  }
  return out;
}
function link(p) {
  return "#" + Object.entries(p).filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(v)).join("&");
}
function runOf(key) { return EK.index.runs.find((r) => r.key === key); }
function fmt(x, d) { return x === null || x === undefined ? "—" : (typeof x === "number" ? x.toFixed(d === undefined ? 2 : d) : String(x)); }
function text(x) { return x === null || x === undefined ? "" : (typeof x === "string" ? x : JSON.stringify(x, null, 1)); }
function langBadge(found, expected) {
  // the language fidelity flag of one reply: its detected language, marked when it is not the run's
  if (!found) return h("span", { class: "muted lang" }, "—");
  const wrong = found !== "und" && expected && found !== expected;
  const label = found === "und" ? "und" : found + (wrong ? " ≠ " + expected : " ✓");
  return h("span", { class: "lang " + (wrong ? "lang-wrong" : found === "und" ? "lang-und" : "lang-ok"), "data-lang": found, title: wrong ? "reply in " + found + ", the run expects " + expected : "detected language of the reply" }, label);
}

EK.route = function () {
  if (!EK.index) return;
  const p = params();
  const app = document.getElementById("app");
  document.getElementById("sources").textContent = EK.index.sources.join("  vs  ") + " · " + EK.index.generated;
  if (p.run) return runPage(app, p);
  if ("compare" in p) return comparePage(app, p);
  return homePage(app);
};
window.addEventListener("hashchange", () => EK.route());
// j / k (or the arrow keys) step through the listed items of a run page
window.addEventListener("keydown", (event) => {
  const p = params();
  if (!p.run || !EK.state.picked || ["INPUT", "TEXTAREA"].includes(document.activeElement && document.activeElement.tagName)) return;
  const step = { j: 1, ArrowDown: 1, k: -1, ArrowUp: -1 }[event.key];
  if (!step) return;
  const list = EK.state.picked, at = list.indexOf(Number(p.item));
  const next = list[at === -1 ? 0 : Math.min(Math.max(at + step, 0), list.length - 1)];
  if (next === undefined) return;
  event.preventDefault();
  if (list.indexOf(next) >= EK.state.shown) EK.state.shown = list.indexOf(next) + 1;
  location.hash = link({ ...p, item: next });
});

function crumbs(...parts) {
  const el = document.getElementById("crumbs");
  fill(el, ...parts.map((p) => (typeof p === "string" ? h("span", {}, " / " + p) : h("span", {}, " / ", p))));
}

/* ---- the home page: leaderboard tables + charts, the list of runs ---- */
function homePage(app) {
  crumbs();
  const idx = EK.index;
  const out = [h("h1", {}, "Leaderboard")];
  if (idx.compare) out.push(h("p", {}, h("a", { href: "#compare", id: "compare-link" }, "Comparison of the two runs: " + idx.compare.length + " task × language pairs, items whose verdict flipped")));
  for (const section of idx.leaderboard) {
    out.push(h("h2", { id: "lang-" + section.lang }, "Language: " + section.lang));
    for (const table of section.tables) out.push(h("h3", {}, table.title), renderTable(table), table.note ? h("p", { class: "muted small" }, table.note) : null);
    for (const chart of section.charts) out.push(barChart(chart));
  }
  out.push(h("h2", {}, "Runs"), runsTable(idx.runs));
  fill(app, ...out);
}

function renderTable(table) {
  return h("table", { class: "board" },
    h("thead", {}, h("tr", {}, table.header.map((c) => h("th", {}, c)))),
    h("tbody", {}, table.rows.map((row) => h("tr", {}, row.map((c, i) => {
      const content = c.r ? h("a", { href: link({ run: c.r }), class: "cell-link", title: c.title || null }, c.t) : c.t;
      return h("td", { class: (i ? "num" : "") + (c.w ? " warn" : "") }, content);
    })))));
}

function runsTable(runs) {
  return h("table", { id: "runs" },
    h("thead", {}, h("tr", {}, ["Model", "Task", "Lang", "Items", "Status", "Errors", "Truncated", "Headline", "Notes"].map((c) => h("th", {}, c)))),
    h("tbody", {}, runs.map((r) => {
      const headline = r.headline && r.metrics[r.headline] ? r.metrics[r.headline].shown : "—";
      return h("tr", {},
        h("td", {}, r.model), h("td", {}, h("a", { href: link({ run: r.key }) }, r.title)), h("td", {}, r.lang),
        h("td", { class: "num" }, r.n_items), h("td", { class: "status-" + r.status }, r.status),
        h("td", { class: "num" }, r.n_errors), h("td", { class: "num" }, fmt(r.n_truncated, 0)),
        h("td", { class: "num" }, (r.headline || "") + " " + headline), h("td", { class: "small" }, (r.notes || []).join("; ")));
    })));
}

/* ---- charts (inline SVG) ---- */
function barChart(chart) {
  const bars = chart.groups.flatMap((g) => g.bars.map((b) => ({ ...b, group: g.label })));
  if (!bars.length) return h("span");
  const max = Math.max(chart.unit === "%" ? 100 : 0, ...bars.map((b) => Math.max(b.value, b.high || 0))) || 1;
  const rowH = 20, left = 260, width = 760, top = 24;
  const svg = sv("svg", { class: "chart", width: width + left + 60, height: top + bars.length * rowH + 20, role: "img" });
  svg.append(sv("text", { x: 0, y: 14, "font-weight": "bold" }, chart.title));
  bars.forEach((b, i) => {
    const y = top + i * rowH;
    const w = (b.value / max) * width;
    const label = (b.group ? b.group + " · " : "") + b.label;
    const bar = sv("rect", { class: "bar", x: left, y: y + 3, width: Math.max(w, 1), height: rowH - 6 });
    svg.append(sv("text", { x: left - 6, y: y + rowH - 6, "text-anchor": "end" }, label.length > 42 ? label.slice(0, 41) + "…" : label));
    svg.append(b.run ? sv("a", { href: link({ run: b.run }) }, bar, sv("title", {}, label + ": " + b.value.toFixed(1))) : bar);
    if (b.low !== null && b.low !== undefined && b.high !== null && b.high !== undefined) {
      const x1 = left + (b.low / max) * width, x2 = left + (b.high / max) * width, cy = y + rowH / 2;
      svg.append(sv("line", { x1, x2, y1: cy, y2: cy, stroke: "#222" }), sv("line", { x1, x2: x1, y1: cy - 4, y2: cy + 4, stroke: "#222" }), sv("line", { x1: x2, x2, y1: cy - 4, y2: cy + 4, stroke: "#222" }));
    }
    svg.append(sv("text", { x: left + Math.max(w, b.high ? (b.high / max) * width : 0) + 6, y: y + rowH - 6 }, b.value.toFixed(1)));
  });
  if (chart.mark !== undefined) {
    const x = left + (chart.mark / max) * width;
    svg.append(sv("line", { x1: x, x2: x, y1: top, y2: top + bars.length * rowH, stroke: "#999", "stroke-dasharray": "4 3" }));
  }
  return h("div", { class: "chart-box" }, svg);
}

function distributionChart(run, onPick) {
  const dist = run.distribution;
  const bars = dist.bars || [];
  const max = Math.max(1, ...bars.map((b) => b.count));
  const bw = Math.max(40, Math.min(96, Math.floor(760 / Math.max(bars.length, 1)))), ch = 120, top = 36;
  const svg = sv("svg", { id: "distribution", width: bars.length * bw + 20, height: top + ch + 40, role: "img" });
  svg.append(sv("text", { x: 0, y: 14, "font-weight": "bold" }, dist.title));
  bars.forEach((b, i) => {
    const hgt = (b.count / max) * ch;
    const x = 10 + i * bw;
    const rect = sv("rect", { class: "bar clickable " + (b.flag || ""), x: x + 3, y: top + ch - hgt, width: bw - 6, height: Math.max(hgt, b.count ? 1 : 0), "data-flag": b.flag || "" }, sv("title", {}, b.label + ": " + b.count));
    if (b.flag) rect.addEventListener("click", () => onPick(b.flag));
    svg.append(rect, sv("text", { x: x + bw / 2, y: top + ch - hgt - 3, "text-anchor": "middle" }, b.count),
      sv("text", { x: x + bw / 2, y: top + ch + 14, "text-anchor": "middle" }, b.label.length > bw / 6.5 ? b.label.slice(0, Math.floor(bw / 6.5) - 1) + "…" : b.label));
  });
  return svg;
}

/* ---- one task × language ---- */
function runPage(app, p) {
  const run = runOf(p.run);
  if (!run) { fill(app, h("p", { class: "note bad" }, "No run " + p.run)); return; }
  crumbs(h("a", { href: link({ run: run.key }) }, run.model + " · " + run.title + " · " + run.lang));
  const head = runHeader(run);
  if (EK.state.run !== run.key) { EK.state = { run: run.key, shown: 200 }; }
  fill(app, ...head, h("p", { id: "items-loading", class: "muted" }, "Loading " + run.n_items + " items…"));
  EK.load(run.key, (rows) => { if (params().run === run.key) renderItems(app, run, rows, head); });
}

function runHeader(run) {
  const cards = h("div", { class: "cards" },
    Object.entries(run.metrics).map(([name, m]) => h("div", { class: "card metric", "data-metric": name }, h("span", { class: "muted small" }, name), h("b", {}, m.shown), m.stderr !== null && m.stderr !== undefined ? h("span", { class: "muted small" }, "± " + fmt(m.stderr, 4)) : null)));
  const facts = h("div", { class: "kv" },
    h("div", {}, "status"), h("div", { class: "status-" + run.status, id: "run-status" }, run.status),
    h("div", {}, "items"), h("div", {}, run.n_items + (run.n !== null && run.n !== undefined ? " (summary n = " + run.n + ")" : "")),
    h("div", {}, "errors"), h("div", {}, run.n_errors + (run.error_rate !== null && run.error_rate !== undefined ? " (" + (100 * run.error_rate).toFixed(1) + "%)" : "") + (Object.keys(run.errors || {}).length ? ": " + Object.entries(run.errors).map(([t, c]) => c + "× " + t).join("; ") : "")),
    h("div", {}, "truncated"), h("div", {}, fmt(run.n_truncated, 0)),
    h("div", {}, "language"), h("div", {}, run.language && run.language.expected ? (run.language.expected + (run.language.in_language !== null && run.language.in_language !== undefined ? ", " + (100 * run.language.in_language).toFixed(1) + "% in language" : "") + (run.language.top_wrong ? ", most frequent other: " + run.language.top_wrong : "")) : "—"),
    Object.entries(run.facts).map(([k, v]) => [h("div", {}, k), h("div", {}, String(v))]));
  const breakdowns = Object.entries((run.summary && run.summary.breakdown) || {}).filter(([, groups]) => groups && typeof groups === "object" && Object.keys(groups).length);
  const breakdownViews = breakdowns.map(([key, groups]) => {
    const metrics = [...new Set(Object.values(groups).flatMap((g) => Object.keys(g || {}).filter((k) => g[k] && typeof g[k] === "object" && "value" in g[k])))];
    return h("details", { class: "breakdown" }, h("summary", {}, "by " + key + " (" + Object.keys(groups).length + " groups)"),
      h("table", {}, h("thead", {}, h("tr", {}, [key, "n", ...metrics].map((c) => h("th", {}, c)))),
        h("tbody", {}, Object.entries(groups).map(([name, g]) => h("tr", {}, h("td", {}, name), h("td", { class: "num" }, fmt(g && g.n, 0)),
          metrics.map((m) => h("td", { class: "num" }, g && g[m] ? fmt(g[m].value, 3) : "—")))))));
  });
  return [h("h1", {}, run.title + " · " + run.lang + " · " + run.model + (run.side === "B" ? " (second run)" : "")),
    cards, facts, ...(run.notes || []).map((n) => h("p", { class: "note" }, n)),
    ...breakdownViews, h("details", {}, h("summary", {}, "summary.json"), h("pre", {}, JSON.stringify(run.summary, null, 2)))];
}

function renderItems(app, run, rows, head) {
  const p = params();
  const active = new Set((p.f || "").split(",").filter(Boolean));
  const term = (p.q || "").toLowerCase();
  const counts = run.counts || {};
  const filters = h("div", { id: "filters" },
    Object.entries(run.flags).map(([flag, label]) => h("button", { "data-flag": flag, class: active.has(flag) ? "on" : "", disabled: !counts[flag] && !active.has(flag), onclick: () => toggle(flag) }, label + " (" + (counts[flag] || 0) + ")")),
    h("input", { id: "search", type: "search", placeholder: "search ids, questions, replies…", value: p.q || "" }),
    h("span", { id: "shown-count", class: "muted" }));
  function toggle(flag) {
    const now = new Set(active);
    if (now.has(flag)) now.delete(flag); else now.add(flag);
    go({ f: [...now].join(",") });
  }
  function go(change) { const q = { ...params(), ...change }; delete q.item; EK.state.shown = 200; location.hash = link(q); }
  const picked = rows.map((r, i) => [r, i]).filter(([r]) => (!active.size || r.f.some((f) => active.has(f))) && (!term || r.q.includes(term)));
  const list = h("tbody", {});
  const table = h("table", { id: "items" }, h("thead", {}, h("tr", {}, ["id", "outcome", run.kind === "task" ? "answer" : "verdicts", run.kind === "task" ? "target" : (run.kind === "alpaca_eval" ? "reference" : "category"), "score", "lang"].map((c) => h("th", {}, c)))), list);
  const open = p.item !== undefined ? Number(p.item) : null;
  EK.state.picked = picked.map(([, i]) => i);
  const shownRows = picked.slice(0, EK.state.shown);
  for (const [r, i] of shownRows) {
    list.append(h("tr", { class: "item" + (i === open ? " open" : ""), "data-index": i, "data-id": r.id, onclick: () => { location.hash = link({ ...params(), item: i }); } },
      h("td", { class: "id" }, r.id), h("td", {}, r.f.map((f) => h("span", { class: "chip " + f }, run.flags[f] || f))),
      h("td", { class: "answer" }, r.a), h("td", { class: "target" }, r.g), h("td", { class: "num" }, r.s === null || r.s === undefined ? "—" : fmt(r.s, 2)),
      h("td", {}, r.l ? langBadge(r.l, run.language && run.language.expected) : "")));
  }
  const more = picked.length > shownRows.length ? h("button", { class: "more", id: "more", onclick: () => { EK.state.shown += 500; EK.route(); } }, "show " + Math.min(500, picked.length - shownRows.length) + " more of " + (picked.length - shownRows.length)) : null;
  const detail = h("div", { id: "detail" });
  const search = filters.querySelector("#search");
  let timer = null;
  search.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => go({ q: search.value }), 200); });
  filters.querySelector("#shown-count").textContent = picked.length + " of " + rows.length + " items";
  fill(app, ...head, h("div", { class: "dist" }, distributionChart(run, (flag) => go({ f: flag }))), filters,
    h("div", { class: "layout" }, h("div", {}, table, more), detail));
  if (term && document.activeElement !== search) { search.focus(); search.setSelectionRange(search.value.length, search.value.length); }
  if (open !== null && rows[open]) showItem(run, open, detail);
}

function showItem(run, index, target) {
  const chunk = Math.floor(index / run.chunk);
  fill(target, h("p", { class: "muted" }, "Loading item…"));
  EK.load(run.key + "-" + chunk, (items) => { fill(target, ...itemView(run, items[index % run.chunk])); });
}

/* ---- one item ---- */
function field(name, label, content) { return h("div", { class: "field field-" + name }, h("h3", {}, label), content); }
function pre(value, cls) { return h("pre", { class: cls || "" }, text(value)); }
function reply(value) {
  const raw = value || "";
  const close = /<\/(think|thinking|reasoning)>/gi;
  let last = null, m;
  while ((m = close.exec(raw)) !== null) last = m;
  let reasoning = null, visible = raw, unterminated = false;
  if (last) { reasoning = raw.slice(0, last.index).replace(/<(think|thinking|reasoning)>/i, ""); visible = raw.slice(last.index + last[0].length); }
  const open = /<(think|thinking|reasoning)>/i.exec(visible);
  if (open) { reasoning = (reasoning ? reasoning + "\n\n" : "") + visible.slice(open.index + open[0].length); visible = visible.slice(0, open.index); unterminated = true; }
  const parts = [];
  if (reasoning !== null) parts.push(h("details", { class: "reasoning" }, h("summary", {}, "reasoning (" + reasoning.length + " characters" + (unterminated ? ", never closed: the reply ran out while thinking" : "") + ")"), pre(reasoning, "reasoning-text")));
  if (reasoning !== null) visible = visible.replace(/^\s*\n/, "");
  parts.push(pre(visible === "" ? "(empty)" : visible, "reply-text"));
  return h("div", { class: "reply" }, parts);
}
function messagesView(messages) {
  const list = messages || [];
  return h("div", { class: "messages" }, list.map((m, i) => {
    const content = m && typeof m.content === "string" ? m.content : text(m && m.content);
    const role = h("div", { class: "role" }, (m && m.role) || "?");
    if (content.length <= 1500) return h("div", { class: "msg" }, role, pre(content));
    // a long message (few-shot examples before the question): its end stays in view, the rest is folded
    let cut = content.lastIndexOf("\n", content.length - 700);
    if (cut < content.length - 1400 || cut <= 0) cut = content.length - 700;
    return h("div", { class: "msg" }, role,
      h("details", { class: "msg-fold" }, h("summary", {}, "the first " + cut + " of " + content.length + " characters (instructions, examples)"), pre(content.slice(0, cut))),
      pre(content.slice(cut).replace(/^\n+/, ""), "msg-tail"));
  }));
}
function kv(obj) {
  const entries = Object.entries(obj || {}).filter(([, v]) => v !== null && v !== undefined && v !== "");
  return h("div", { class: "kv" }, entries.map(([k, v]) => [h("div", {}, k), h("div", { class: "kv-" + k }, typeof v === "object" ? JSON.stringify(v) : String(v))]));
}

function itemView(run, item) {
  if (!item) return [h("p", { class: "note bad" }, "item not found")];
  const head = h("h2", { id: "item-id" }, item.id);
  if (item.kind === "damaged") {
    return [head, h("p", { class: "note bad damaged" }, "Damaged record: " + item.damaged.file + " line " + item.damaged.line + ": " + item.damaged.reason), field("raw", "The line as it is on disk", pre(item.damaged.text))];
  }
  if (item.kind === "task") return [head, ...taskItem(run, item)];
  if (item.kind === "arena_hard") return [head, ...arenaItem(run, item)];
  if (item.kind === "mt_bench") return [head, ...mtItem(run, item)];
  if (item.kind === "alpaca_eval") return [head, ...alpacaItem(run, item)];
  return [head, pre(item)];
}

function taskItem(run, it) {
  const ex = { ...it.extracted };
  const answer = it.answer_key ? ex[it.answer_key] : undefined;
  const rest = { ...ex }; delete rest[it.answer_key]; delete rest.rule; delete rest.notes; delete rest.judge; delete rest.language;
  delete rest.code; delete rest.status; delete rest.detail; delete rest.verdict_mode; delete rest.stdout; delete rest.stderr;
  const out = [];
  if (it.error) out.push(h("p", { class: "note bad field-error" }, "Error (counted, not scored as a wrong answer): " + it.error));
  out.push(field("messages", "Messages sent", messagesView(it.messages)));
  out.push(field("reply", "Reply", h("div", {}, reply(it.reply), h("div", { class: "small muted" }, "finish_reason: ", h("span", { class: "finish-reason" + (it.finish_reason === "length" ? " bad" : "") }, String(it.finish_reason)), " · language: ", langBadge(it.language, it.expected_language)))));
  if (it.code) {
    out.push(field("program", "Program (extracted code)", pre(it.code.program || "(no code)")));
    out.push(field("sandbox", "Sandbox outcome", h("div", {}, h("span", { class: "chip sandbox-status " + (it.code.status === "passed" ? "correct" : "wrong") }, String(it.code.status)), kv({ detail: it.code.detail, verdict_mode: it.code.verdict_mode }), it.code.stdout ? pre(it.code.stdout) : null, it.code.stderr ? pre(it.code.stderr) : null)));
  } else {
    out.push(field("extracted", "Extracted answer", h("div", {}, h("div", { class: "kv" },
      h("div", {}, it.answer_key || "answer"), h("div", { class: "extracted-answer" }, answer === null || answer === undefined ? "(none)" : text(answer)),
      h("div", {}, "rule"), h("div", { class: "extracted-rule" }, ex.rule === undefined ? "—" : String(ex.rule)),
      h("div", {}, "notes"), h("div", { class: "extracted-notes" }, ex.notes ? String(ex.notes) : "—")), kv(rest))));
  }
  out.push(field("target", "Target", pre(it.target === "" || it.target === null ? "(none)" : it.target, "target-text")));
  out.push(field("scores", "Scores", kv(it.scores)));
  if (it.judge) out.push(field("judge", "Judge", h("div", {}, kv({ verdict: it.judge.verdict, reasked: it.judge.reasked, mode: it.judge.judge_mode }), pre(it.judge.raw), it.judge.raw_reask ? pre(it.judge.raw_reask) : null)));
  out.push(field("record", "Record", kv({ replica: it.replica, usage: it.usage, latency_s: it.latency_s, cached: it.cached, metadata: it.metadata })));
  return out;
}

function judgeView(g) {
  return h("div", { class: "judge" },
    g.judge_messages ? h("details", { class: "judge-prompt" }, h("summary", {}, "judge prompt (" + g.judge_messages.length + " messages)"), messagesView(g.judge_messages)) : h("p", { class: "muted small judge-prompt-missing" }, g.user_prompt ? "judge prompt (user message as recorded):" : "judge prompt not recorded in this run"),
    !g.judge_messages && g.user_prompt ? h("details", {}, h("summary", {}, "user prompt"), pre(g.user_prompt)) : null,
    h("div", { class: "small muted" }, "judge's reply" + (g.judge ? " (" + g.judge + ")" : "")), pre(g.raw === null || g.raw === undefined ? "(none)" : g.raw, "judge-text"),
    g.reasked ? h("div", {}, h("div", { class: "small muted" }, "re-asked; second reply:"), pre(g.raw_reask)) : null,
    g.option_logprobs && Object.keys(g.option_logprobs).length ? kv({ "option logprobs": g.option_logprobs }) : null);
}

function answerBox(title, body, extra) { return h("div", {}, h("h3", {}, title), extra || null, reply(body)); }

function arenaItem(run, it) {
  const out = [];
  if (it.error) out.push(h("p", { class: "note bad field-error" }, "Error: " + it.error));
  out.push(field("question", "Question" + (it.category ? " (" + it.category + ")" : ""), pre(it.question || "(the question is not on this machine; it is in the judge prompt)")));
  out.push(h("div", { class: "side field-answers" },
    answerBox("Model: " + run.model, it.answer, h("div", { class: "small muted" }, "finish_reason " + text(it.finish_reason) + " · ", langBadge(it.language, it.expected_language))),
    answerBox("Baseline: " + (it.baseline_name || "?"), it.baseline_answer === null ? "(the baseline's answer is not on this machine; it is in the judge prompt)" : it.baseline_answer)));
  out.push(h("h3", {}, "Games (both orders)"));
  for (const g of it.games) {
    out.push(h("div", { class: "game field-game", "data-game": g.game },
      h("div", {}, h("b", {}, "Game " + g.game + ": "), "A = " + g.model_a + ", B = " + g.model_b + " → verdict ", h("b", { class: "verdict" }, g.verdict || "none"), " (" + g.model_side + ")"),
      judgeView(g)));
  }
  if (!it.games.length) out.push(h("p", { class: "muted" }, "not judged"));
  return out;
}

function mtItem(run, it) {
  const out = [];
  if (it.error) out.push(h("p", { class: "note bad field-error" }, "Error: " + it.error));
  out.push(h("p", {}, "category: " + (it.category || "—") + " · language: ", langBadge(it.language, it.expected_language)));
  const turns = Math.max((it.answers || []).length, (it.questions || []).length, ...it.games.map((g) => g.turn || 0));
  for (let t = 1; t <= turns; t++) {
    const game = it.games.find((g) => g.turn === t);
    out.push(h("div", { class: "game field-turn", "data-turn": t },
      h("h3", {}, "Turn " + t + (game ? " — rating " + (game.score === null ? "none (unrated)" : game.score) : "")),
      it.questions && it.questions[t - 1] ? [h("div", { class: "role" }, "question"), pre(it.questions[t - 1])] : null,
      h("div", { class: "role" }, "answer"), reply((it.answers || [])[t - 1]),
      it.reference && it.reference[t - 1] ? h("details", { class: "reference" }, h("summary", {}, "reference answer" + (game && game.reference_model ? " (" + game.reference_model + ")" : "")), pre(it.reference[t - 1])) : null,
      game ? [h("div", { class: "small muted" }, "judge prompt: " + (game.prompt_name || "—")), judgeView(game)] : h("p", { class: "muted" }, "not graded")));
  }
  return out;
}

function alpacaItem(run, it) {
  const out = [];
  if (it.error) out.push(h("p", { class: "note bad field-error" }, "Error: " + it.error));
  out.push(field("instruction", "Instruction", pre(it.instruction || "—")));
  for (const g of it.games) {
    out.push(h("div", { class: "game field-game" },
      h("div", {}, h("b", {}, "Reference " + g.reference + ": "), "preference ", h("b", { class: "verdict" }, g.preference === null ? "none" : g.preference.toFixed(3)), " (1 = the reference wins, 2 = the model wins)" + (g.soft ? ", from label probabilities" : "") + (g.switched ? "; presented with the model's output first" : "; presented with the reference first")),
      h("div", { class: "side" },
        answerBox("Model (" + fmt(g.model_length, 0) + " characters)", it.answer, h("div", { class: "small muted" }, langBadge(it.language, it.expected_language))),
        answerBox("Reference " + g.reference + " (" + fmt(g.reference_length, 0) + " characters)", g.reference_answer === null ? "(not on this machine)" : g.reference_answer)),
      judgeView(g)));
  }
  if (!it.games.length) out.push(answerBox("Model", it.answer), h("p", { class: "muted" }, "not judged"));
  return out;
}

/* ---- two runs ---- */
function comparePage(app, p) {
  crumbs(h("a", { href: "#compare" }, "comparison"));
  const pairs = EK.index.compare || [];
  if (p.pair !== undefined && pairs[Number(p.pair)]) return flipPage(app, pairs[Number(p.pair)], p);
  const rows = pairs.map((c, i) => {
    const g = c.gate || {};
    return h("tr", {}, h("td", {}, h("a", { href: link({ compare: 1, pair: i }), class: "pair-link" }, c.title + " · " + c.lang)),
      h("td", {}, c.model_a), h("td", {}, c.model_b), h("td", {}, g.metric || "—"), h("td", { class: "num" }, fmt(g.baseline, 2)), h("td", { class: "num" }, fmt(g.candidate, 2)),
      h("td", { class: "num" }, fmt(g.delta, 2)), h("td", { class: "num" }, fmt(g.bound, 2)), h("td", { class: "num" }, fmt(g.se, 2)), h("td", { class: "num" }, fmt(g.min_detectable, 2)), h("td", { class: "num" }, fmt(g.n, 0)), h("td", { class: "num" }, fmt(g.p_value, 3)), h("td", { class: "num" }, fmt(g.mcnemar_p, 3)),
      h("td", { class: g.regression ? "bad" : "good" }, g.regression === undefined ? "—" : (g.regression ? "regression" : "pass")), h("td", { class: "num" }, c.flips.length), h("td", { class: "small" }, [g.method, c.note].filter(Boolean).join("; ")));
  });
  fill(app, h("h1", {}, "Two runs: A = " + EK.index.sources[0] + ", B = " + EK.index.sources[1]),
    h("p", { class: "muted" }, "The gate's evidence per task × language (points; max drop 1.0, α 0.05), and the items whose per-item value differs between the runs."),
    h("table", { id: "compare" }, h("thead", {}, h("tr", {}, ["task", "A", "B", "metric", "A", "B", "Δ", "upper bound", "SE", "min. detectable drop", "n", "p", "McNemar p", "gate", "flipped", "method / note"].map((c) => h("th", {}, c)))), h("tbody", {}, rows)));
}

function flipPage(app, pair, p) {
  const a = runOf(pair.a), b = runOf(pair.b);
  const open = p.flip !== undefined ? pair.flips[Number(p.flip)] : null;
  const list = h("table", { id: "flips" }, h("thead", {}, h("tr", {}, ["item", "A", "B"].map((c) => h("th", {}, c)))),
    h("tbody", {}, pair.flips.map((f, i) => h("tr", { class: "item flip" + (open === f ? " open" : ""), "data-id": f.id, onclick: () => { location.hash = link({ compare: 1, pair: p.pair, flip: i }); } },
      h("td", { class: "id" }, f.unit), h("td", { class: "num" }, f.a), h("td", { class: "num " + (f.b < f.a ? "bad" : "good") }, f.b)))));
  const sides = h("div", { class: "side", id: "flip-detail" },
    h("div", {}, h("h2", { class: "side-title" }, "A: " + pair.model_a), h("div", { id: "flip-a" })),
    h("div", {}, h("h2", { class: "side-title" }, "B: " + pair.model_b), h("div", { id: "flip-b" })));
  fill(app, h("h1", {}, pair.title + " · " + pair.lang + ": " + pair.flips.length + " items flipped"), pair.note ? h("p", { class: "note" }, pair.note) : null,
    h("p", {}, h("a", { href: link({ run: pair.a }) }, "A: " + pair.model_a), " · ", h("a", { href: link({ run: pair.b }) }, "B: " + pair.model_b)),
    h("div", { class: "layout flips" }, h("div", {}, list), h("div", {}, sides)));
  if (open) {
    if (open.ia !== null && open.ia !== undefined) showItem(a, open.ia, sides.querySelector("#flip-a"));
    if (open.ib !== null && open.ib !== undefined) showItem(b, open.ib, sides.querySelector("#flip-b"));
  }
}
