/* Drill-down of one article: its catalog entry, counts by network and hourly series. */
"use strict";

(() => {
  const { $, fmt, text } = Ops;
  const METRICS = ["views", "shares", "clicks"];
  const articleId = decodeURIComponent(location.pathname.split("/").pop());
  const id = encodeURIComponent(articleId);

  async function series() {
    const all = await Promise.all(METRICS.map((m) =>
      Ops.getJSON(`/v1/articles/${id}/timeseries?metric=${m}&granularity=hour`, false)));
    const xs = all[0].points.map((p) => Date.parse(p.t) / 1000);
    const data = [xs].concat(all.map((s) => s.points.map((p) => p.value)));
    const chart = Ops.timeChart($("chart-article"), METRICS);
    chart.setData(data);
    Ops.dataTable($("chart-article"), "per hour, last 48 hours", ["Hour", ...METRICS])(
      xs.map((t, i) => [Ops.hourLabel(t), ...data.slice(1).map((v) => v[i])]));
    Ops.resizeOnWindow(chart, $("chart-article"));
    $("chart-article").dataset.total = data.slice(1).map((v) => v.reduce((a, b) => a + b, 0)).join(",");
  }

  function networks(stats) {
    const names = Object.keys(stats.shares.by_network);
    const chart = Ops.networkChart($("chart-networks"), names);
    const shares = names.map((n) => stats.shares.by_network[n]);
    const clicks = names.map((n) => stats.clicks.by_network[n] || 0);
    chart.setData([names.map((_, i) => i), shares, clicks]);
    Ops.dataTable($("chart-networks"), "shares and clicks by network", ["Network", "shares", "clicks"])(
      names.map((n, i) => [n, shares[i], clicks[i]]));
    Ops.resizeOnWindow(chart, $("chart-networks"));
    $("chart-networks").dataset.total = `${stats.shares.total},${stats.clicks.total}`;
  }

  function pct(rate) { return rate === null ? "–" : `${(rate * 100).toFixed(1)} %`; }

  function related(r) {
    text("r-shown", fmt(r.impressions));
    text("r-clicks", fmt(r.clicks.total));
    text("r-ctr", pct(r.ctr));
    const body = document.querySelector("#r-positions tbody");
    body.replaceChildren(...Object.keys(r.clicks.by_position).map((p) => {
      const row = document.createElement("tr");
      for (const value of [p, fmt(r.clicks.by_position[p]), pct(r.ctr_by_position[p])]) {
        const cell = document.createElement("td");
        cell.textContent = value;
        row.append(cell);
      }
      return row;
    }));
  }

  async function start() {
    try {
      const article = await Ops.getJSON(`/v1/articles/${id}`);
      text("a-title", article.title);
      document.title = `${article.title} · Engagement ops`;
      $("a-link").href = article.url;
      $("a-link").textContent = article.url;
      $("a-status").dataset.status = article.status === "published" ? "ok" : "warning";
      text("a-status", article.status);
      const stats = await Ops.getJSON(`/v1/articles/${id}/stats`, false);
      text("a-views", fmt(stats.views));
      text("a-unique", fmt(stats.unique_visitors));
      text("a-shares", fmt(stats.shares.total));
      text("a-clicks", fmt(stats.clicks.total));
      networks(stats);
      related(stats.related);
    } catch (err) {
      if (err instanceof Ops.AuthError) { Ops.askAgain("That token was rejected: enter the admin token."); return; }
      text("a-title", String(err.message || err));
      return;
    }
    try {
      await series();
    } catch (err) {
      text("series-error", `time series unavailable: ${err.message || err}`);
    }
  }

  Ops.withToken(start);
})();
