/* The ops dashboard: polls /v1/ops/summary and redraws in place. */
"use strict";

(() => {
  const { $, fmt, text } = Ops;
  const METRICS = ["views", "shares", "clicks"];
  const override = Number(new URLSearchParams(location.search).get("refresh"));
  let windowName = "24h";
  let last = null;
  let hourlyChart = null;
  let networkChart = null;
  let hourlyTable = null;
  let networkTable = null;
  let timer = null;
  let paused = false;
  let inflight = false;

  const refreshMs = (s) => 1000 * Math.max(0.2, override > 0 ? override : (s && s.refresh_s) || 5);
  const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString("en-GB") : "never");
  const seconds = (s) => (s < 120 ? `${s.toFixed(1)} s` : `${Math.round(s / 60)} min`);

  function headline(s) {
    for (const m of METRICS) {
      text(`h-${m}-hour`, fmt(s.headline.last_hour[m]));
      text(`h-${m}-rate`, `${fmt(s.headline.last_hour[`${m}_per_minute`])} / min`);
      text(`h-${m}-day`, fmt(s.headline.last_day[m]));
    }
    text("h-span", `Big numbers: since ${clock(s.headline.last_hour.from)} (the previous and the current hour).`);
  }

  function flush(s) {
    const f = s.flush;
    const ev = s.events;
    const warn = f.lagging || ev.dropping || Boolean(f.last_error);
    $("flush").dataset.state = warn ? "warning" : "ok";
    text("f-lag", `${seconds(f.lag_s)} (warning above ${seconds(f.warn_after_s)})`);
    text("f-last", clock(f.last_success));
    text("f-pending", fmt(f.pending_batches));
    text("f-deltas", fmt(f.pending_deltas));
    text("f-runs", `${fmt(f.runs)} / ${fmt(f.failures)}`);
    const r = f.last_report;
    text("f-report", r ? `${fmt(r.events)} events, ${fmt(r.rows)} rows, ${fmt(r.batches)} batches in ${r.seconds} s` : "–");
    const d = ev.dropped;
    text("f-dropped", `failed ${fmt(d.failed)} · rejected ${fmt(d.rejected)} · duplicate ${fmt(d.duplicate)} · bots ${fmt(ev.bots)}`);
    worker(s.worker);
    const list = $("reasons");
    if (list.dataset.shown === JSON.stringify(s.health.reasons)) return;  // a live region: changes only
    list.dataset.shown = JSON.stringify(s.health.reasons);
    list.replaceChildren(...s.health.reasons.map((reason) => {
      const li = document.createElement("li");
      li.textContent = reason;
      return li;
    }));
  }

  function worker(w) {
    text("w-process", w ? `${w.role}: ${w.process || "–"}` : "–");
    const l = w && w.lease;
    if (!l || l.error) text("w-lease", l ? `unknown (${l.error})` : "–");
    else if (!l.holder) text("w-lease", "free: no worker holds it");
    else text("w-lease", `${l.holder}${l.this_process ? " (this process)" : ""}, held ${l.age_s} s, expires in ${l.expires_in_s} s`);
  }

  function charts(s) {
    if (!hourlyChart) {
      hourlyChart = Ops.timeChart($("chart-hourly"), METRICS);
      Ops.resizeOnWindow(hourlyChart, $("chart-hourly"));
      hourlyTable = Ops.dataTable($("chart-hourly"), "per hour, last 48 hours", ["Hour", ...METRICS]);
    }
    const h = s.hourly;
    hourlyChart.setData([h.hours, h.views, h.shares, h.clicks]);
    hourlyTable(h.hours.map((t, i) => [Ops.hourLabel(t), h.views[i], h.shares[i], h.clicks[i]]));
    $("chart-hourly").dataset.total = METRICS.map((m) => h[m].reduce((a, b) => a + b, 0)).join(",");
    const names = Object.keys(s.networks.shares);
    if (!networkChart) {
      networkChart = Ops.networkChart($("chart-networks"), names);
      Ops.resizeOnWindow(networkChart, $("chart-networks"));
      networkTable = Ops.dataTable($("chart-networks"), "shares and clicks by network", ["Network", "shares", "clicks"]);
    }
    const shares = names.map((n) => s.networks.shares[n]);
    const clicks = names.map((n) => s.networks.clicks[n]);
    networkChart.setData([names.map((_, i) => i), shares, clicks]);
    networkTable(names.map((n, i) => [n, shares[i], clicks[i]]));
    $("chart-networks").dataset.total = [shares, clicks].map((v) => v.reduce((a, b) => a + b, 0)).join(",");
  }

  function newRow() {
    const tr = document.createElement("tr");
    const cells = [0, 1, 2].map(() => document.createElement("td"));
    const link = document.createElement("a");
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    const more = document.createElement("a");
    more.className = "more";
    more.textContent = "details";
    cells[1].append(link, " ", more);
    cells[2].className = "num";
    tr.append(...cells);
    return tr;
  }

  const set = (node, key, value) => { if (node[key] !== value) node[key] = value; };

  /* Fills a row in place (only what changed): a focused link inside it stays where it is. */
  function fill(tr, item, rank) {
    const [num, article, count] = tr.cells;
    const [link, more] = article.querySelectorAll("a");
    tr.dataset.key = item.article_id;
    set(num, "textContent", String(rank));
    if (link.getAttribute("href") !== item.url) link.setAttribute("href", item.url);
    set(link, "textContent", item.title || item.article_id);
    const details = `/ops/articles/${encodeURIComponent(item.article_id)}`;
    if (more.getAttribute("href") !== details) more.setAttribute("href", details);
    set(count, "textContent", fmt(item.count));
    return tr;
  }

  function emptyRow() {
    const tr = document.createElement("tr");
    const td = document.createElement("td");
    td.colSpan = 3;
    td.className = "muted";
    td.textContent = "no activity in this window";
    tr.dataset.key = "";
    tr.append(td);
    return tr;
  }

  /* Rows are kept per article and moved, not rebuilt; moveBefore keeps the focus where browsers have it. */
  function place(body, rows) {
    rows.forEach((tr, i) => {
      const at = body.rows[i] || null;
      if (at === tr) return;
      if (body.moveBefore && tr.isConnected) body.moveBefore(tr, at); else body.insertBefore(tr, at);
    });
    while (body.rows.length > rows.length) body.deleteRow(-1);
  }

  function tables(s) {
    const focused = document.activeElement;
    for (const m of METRICS) {
      const items = s.top[windowName][m];
      const body = $(`top-${m}`).tBodies[0];
      const old = new Map([...body.rows].map((tr) => [tr.dataset.key, tr]));
      const rows = items.length
        ? items.map((item, i) => fill(old.get(item.article_id) || newRow(), item, i + 1))
        : [old.get("") || emptyRow()];
      place(body, rows);
    }
    if (focused && focused.isConnected && document.activeElement !== focused) focused.focus();
  }

  function redis(s) {
    const r = s.redis;
    text("r-memory", r.error ? `unavailable (${r.error})` : `${r.used_memory_human} (peak ${r.used_memory_peak_human})`);
    text("r-max", r.maxmemory ? fmt(r.maxmemory) : "no limit");
    text("r-policy", r.maxmemory_policy || "–");
    text("r-evicted", fmt(r.evicted_keys));
  }

  function health(status, label) {
    const badge = $("health");  // role=status: written only when it changes, so only changes are announced
    badge.dataset.status = status;
    if (badge.textContent !== label) badge.textContent = label;
  }

  function render(s) {
    headline(s);
    flush(s);
    charts(s);
    tables(s);
    redis(s);
    health(s.health.status, s.health.status === "ok" ? "all good" : `${s.health.reasons.length} warning(s)`);
    text("updated", `updated ${clock(s.generated_at)}${paused ? " (paused)" : ""}`);
  }

  async function tick() {
    inflight = true;
    try {
      last = await Ops.getJSON("/v1/ops/summary");
      render(last);
    } catch (err) {
      if (err instanceof Ops.AuthError) {
        inflight = false;
        Ops.askAgain("That token was rejected: enter the admin token.");
        return;
      }
      health("error", "unreachable");
      text("updated", String(err.message || err));
    }
    inflight = false;
    if (!paused) timer = setTimeout(tick, refreshMs(last));
  }

  /* WCAG 2.2.2: the reader can stop the updates (and start them again). */
  $("pause").addEventListener("click", () => {
    paused = !paused;
    $("pause").textContent = paused ? "Resume updates" : "Pause updates";
    clearTimeout(timer);
    if (paused) text("updated", `${$("updated").textContent.replace(/ \(paused\)$/, "")} (paused)`);
    else if (!inflight) tick();  // one in flight schedules the next itself
  });

  $("windows").addEventListener("click", (ev) => {
    const button = ev.target.closest("button[data-window]");
    if (!button) return;
    windowName = button.dataset.window;
    for (const b of $("windows").querySelectorAll("button")) b.setAttribute("aria-pressed", String(b === button));
    if (last) tables(last);
  });

  Ops.withToken(tick);
})();
