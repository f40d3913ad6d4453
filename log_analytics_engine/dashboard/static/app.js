// The dashboard page: polls the JSON API and draws everything itself (no libraries, no CDN).
(function () {
  "use strict";

  const params = new URLSearchParams(window.location.search);
  const token = params.get("token");
  const refreshMs = Math.max(200, Number(params.get("refresh")) || 2000);
  const path = window.location.pathname;
  const base = path.endsWith("/") ? path : path + "/";
  const LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
  const COLORS = { TRACE: "#6b7487", DEBUG: "#4f8fbf", INFO: "#3fae72", WARN: "#e0b43c",
                   ERROR: "#e5534b", FATAL: "#a371f7" };
  const PAGE_SIZE = 20;
  const state = { q: "", page: 1, pages: 0, lastIngested: null, lastTime: null };

  const $ = (id) => document.getElementById(id);
  const fmt = (n) => (typeof n === "number" ? n.toLocaleString("en-US") : "–");

  async function api(route) {
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const response = await fetch(base + route, { headers: headers, cache: "no-store" });
    let body = null;
    try { body = await response.json(); } catch (e) { body = null; }
    if (!response.ok) {
      const why = body && (body.error || body.detail);
      throw new Error(why ? String(why) : "HTTP " + response.status);
    }
    return body;
  }

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function setText(id, value) {
    const node = $(id);
    if (node.textContent !== value) node.textContent = value;
  }

  function fillList(id, items, render) {
    const list = $(id);
    list.replaceChildren(...(items.length ? items.map(render) : [el("li", "none", "muted")]));
  }

  function logRow(entry) {
    const tr = el("tr");
    tr.append(el("td", entry.time), el("td", entry.level, "lv-" + entry.level),
              el("td", entry.source), el("td", entry.message));
    return tr;
  }

  // -- counters ------------------------------------------------------------------------
  async function refreshSummary() {
    const s = await api("api/summary");
    const levels = s.levels || {};
    setText("c-total", fmt(s.total_logs));
    setText("c-ingested", fmt(s.ingested_total));
    setText("c-errors", fmt((levels.ERROR || 0) + (levels.FATAL || 0)));
    setText("c-rejected", fmt(s.rejected_total));
    setText("c-dropped", fmt(s.dropped_total));
    setText("c-alerts", fmt(s.alerts_total));
    setText("engine-info", "v" + s.version + " · " +
            (s.accelerator ? "C accelerator active" : "pure Python (C accelerator not built)"));
    const now = performance.now();
    if (state.lastIngested !== null && now > state.lastTime) {
      const rate = (s.ingested_total - state.lastIngested) / ((now - state.lastTime) / 1000);
      setText("c-rate", fmt(Math.max(0, Math.round(rate))));
    }
    state.lastIngested = s.ingested_total;
    state.lastTime = now;
  }

  // -- chart ---------------------------------------------------------------------------
  function drawChart(h) {
    const canvas = $("chart");
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 600;
    const height = canvas.clientHeight || 220;
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = "11px system-ui, sans-serif";
    const buckets = h.buckets || [];
    const totals = buckets.map((b) => Object.values(b.counts).reduce((a, v) => a + v, 0));
    const sum = totals.reduce((a, v) => a + v, 0);
    canvas.dataset.total = String(sum);
    canvas.dataset.buckets = String(buckets.length);
    if (!buckets.length) {
      ctx.fillStyle = "#8a94a8";
      ctx.fillText("no entries yet", 12, 20);
      return;
    }
    const left = 52, right = 8, top = 8, bottom = 22;
    const plotW = width - left - right, plotH = height - top - bottom;
    const max = Math.max(1, ...totals);
    ctx.strokeStyle = "#2a3347";
    ctx.fillStyle = "#8a94a8";
    ctx.textAlign = "right";
    for (let k = 0; k <= 4; k++) {
      const y = top + plotH - (plotH * k) / 4;
      ctx.beginPath(); ctx.moveTo(left, y + 0.5); ctx.lineTo(width - right, y + 0.5); ctx.stroke();
      ctx.fillText(fmt(Math.round((max * k) / 4)), left - 6, y + 4);
    }
    const bw = plotW / buckets.length;
    buckets.forEach((b, i) => {
      let y = top + plotH;
      for (const level of LEVELS) {
        const v = b.counts[level] || 0;
        if (!v) continue;
        const hgt = (v / max) * plotH;
        ctx.fillStyle = COLORS[level];
        ctx.fillRect(left + i * bw + 0.5, y - hgt, Math.max(1, bw - 1), hgt);
        y -= hgt;
      }
    });
    ctx.fillStyle = "#8a94a8";
    ctx.textAlign = "center";
    const step = Math.max(1, Math.ceil(buckets.length / 6));
    for (let i = 0; i < buckets.length; i += step) {
      const label = buckets[i].start.slice(11, 16);
      ctx.fillText(label, left + i * bw + bw / 2, height - 6);
    }
    const first = buckets[0].start, last = buckets[buckets.length - 1].start;
    setText("chart-range", first.replace("T", " ").slice(0, 16) + " – " +
            last.replace("T", " ").slice(0, 16) + " UTC");
    const legend = $("legend");
    if (legend.dataset.levels !== h.levels.join(",")) {
      legend.dataset.levels = h.levels.join(",");
      legend.replaceChildren(...h.levels.map((lv) => {
        const item = el("span", lv);
        const swatch = el("i");
        swatch.style.background = COLORS[lv];
        item.prepend(swatch);
        return item;
      }));
    }
  }

  async function refreshChart() {
    drawChart(await api("api/histogram?interval=1m&buckets=60"));
  }

  // -- processors, traces, errors, alerts ----------------------------------------------
  async function refreshProcessors() {
    const rows = await api("api/processors");
    let errors = 0;
    const body = $("processors").tBodies[0];
    body.replaceChildren(...rows.map((p) => {
      errors += p.errors;
      const tr = el("tr");
      tr.append(el("td", p.name), el("td", fmt(p.processed), "num"),
                el("td", fmt(p.errors), "num" + (p.errors ? " error" : "")),
                el("td", fmt(p.dropped), "num"), el("td", p.avg_time_ms.toFixed(4), "num"),
                el("td", p.when || "all", "muted small"));
      return tr;
    }));
    if (!rows.length) {
      const tr = el("tr");
      const td = el("td", "no processors registered", "muted");
      td.colSpan = 6;
      tr.append(td);
      body.replaceChildren(tr);
    }
    setText("c-proc-errors", fmt(errors));
  }

  async function refreshTraces() {
    const traces = await api("trace?limit=15");
    fillList("traces", traces.slice().reverse(), (t) => el("li", t.join(" → ") || "(none ran)"));
  }

  async function refreshProcessorErrors() {
    const items = await api("api/processor-errors?limit=15");
    fillList("proc-errors", items, (e) => {
      const li = el("li");
      li.append(el("strong", e.processor + ": "), el("span", e.type + ": " + e.error + " "),
                el("span", "(" + e.entry + ")", "muted"));
      return li;
    });
  }

  async function refreshAlerts() {
    const items = await api("api/alerts?limit=15");
    fillList("alerts", items, (a) => {
      const li = el("li");
      li.append(el("strong", "[" + a.severity + "] "), el("span", a.message + " "),
                el("span", a.triggered_at, "muted"));
      return li;
    });
  }

  async function refreshRecentErrors() {
    const page = await api("api/logs?min_severity=ERROR&page_size=8");
    const body = $("recent-errors").tBodies[0];
    body.replaceChildren(...page.items.map(logRow));
  }

  // -- search --------------------------------------------------------------------------
  async function runSearch() {
    const query = new URLSearchParams({ page: String(state.page), page_size: String(PAGE_SIZE) });
    if (state.q) query.set("q", state.q);
    setText("search-error", "");
    setText("search-note", "");
    try {
      const result = await api("api/logs?" + query.toString());
      state.pages = result.pages;
      setText("search-note", (result.warnings || []).join("; "));
      $("results").tBodies[0].replaceChildren(...result.items.map(logRow));
      setText("results-count", fmt(result.total) + " matching" +
              (result.q_mode ? " (" + result.q_mode + ")" : ""));
      setText("page", "page " + result.page + " of " + Math.max(1, result.pages));
      $("prev").disabled = state.page <= 1;
      $("next").disabled = state.page >= result.pages;
      $("results").dataset.total = String(result.total);
      $("results").dataset.query = state.q;
    } catch (err) {
      // nothing of the previous search may stay: its count and page would describe
      // results that are no longer shown
      setText("search-error", err.message);
      setText("results-count", "");
      setText("page", "");
      state.pages = 0;
      $("prev").disabled = true;
      $("next").disabled = true;
      $("results").tBodies[0].replaceChildren();
      $("results").dataset.total = "";
      $("results").dataset.query = state.q;
    }
  }

  $("search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.q = $("q").value.trim();
    state.page = 1;
    runSearch();
  });
  $("prev").addEventListener("click", () => { state.page = Math.max(1, state.page - 1); runSearch(); });
  $("next").addEventListener("click", () => { state.page += 1; runSearch(); });

  // -- the loop ------------------------------------------------------------------------
  async function tick() {
    const jobs = [refreshSummary(), refreshChart(), refreshProcessors(), refreshTraces(),
                  refreshProcessorErrors(), refreshAlerts(), refreshRecentErrors()];
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r) => r.status === "rejected");
    const status = $("status");
    if (failed) {
      status.textContent = "error: " + failed.reason.message;
      status.className = "status bad";
    } else {
      status.textContent = "updated " + new Date().toISOString().slice(11, 19) + " UTC";
      status.className = "status";
    }
    window.setTimeout(tick, refreshMs);
  }

  tick();
  runSearch();
})();
