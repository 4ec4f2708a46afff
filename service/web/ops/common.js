/* Shared by the ops pages: the admin token (sessionStorage), authorised fetches, formatting, charts. */
"use strict";

const Ops = (() => {
  const KEY = "ops-admin-token";
  const COLORS = { views: "#2563eb", shares: "#16a34a", clicks: "#d97706" };
  const FILLS = { views: "rgba(37, 99, 235, 0.12)" };
  const DASHES = { views: undefined, shares: [10, 5], clicks: [2, 4] };  // not told apart by colour alone

  const $ = (id) => document.getElementById(id);
  const token = () => sessionStorage.getItem(KEY);
  const fmt = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
  const text = (id, value) => { $(id).textContent = value; };

  class AuthError extends Error {}

  async function getJSON(url, auth = true) {
    const headers = { Accept: "application/json" };
    if (auth) headers.Authorization = `Bearer ${token()}`;
    const resp = await fetch(url, { headers, cache: "no-store", credentials: "omit" });
    if (resp.status === 401) throw new AuthError("token rejected");
    if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
    return resp.json();
  }

  /* Shows the login form until a token is given, then calls start(); a 401 brings the form back. */
  function withToken(start) {
    const form = $("login");
    const forget = $("forget");
    const begin = () => { form.hidden = true; $("main").hidden = false; forget.hidden = false; start(); };
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      sessionStorage.setItem(KEY, $("token").value.trim());
      $("token").value = "";
      begin();
      $("main").focus();  // the form that had the focus is gone: not back to <body>
    });
    forget.addEventListener("click", () => { sessionStorage.removeItem(KEY); location.reload(); });
    if (token()) begin(); else form.hidden = false;
  }

  function askAgain(message) {
    sessionStorage.removeItem(KEY);
    $("main").hidden = true;
    $("forget").hidden = true;
    $("login").hidden = false;
    text("login-error", message);
  }

  const width = (el) => Math.max(160, el.clientWidth || 600);

  /* Lines over time; views on the left axis, shares and clicks on the right. */
  function timeChart(el, names) {
    const series = [{}].concat(names.map((name) => ({
      label: name, stroke: COLORS[name], fill: FILLS[name], width: name === "clicks" ? 2.5 : 2, dash: DASHES[name],
      scale: name === "views" ? "views" : "sc", points: { show: false },
    })));
    const opts = {
      width: width(el), height: 260, series,
      scales: { x: { time: true }, views: {}, sc: {} },
      axes: [{}, { scale: "views", label: "views" }, { scale: "sc", side: 1, label: "shares, clicks", grid: { show: false } }],
      legend: { show: false },
    };
    const empty = [[]].concat(names.map(() => []));
    return described(new uPlot(opts, empty, el), el, names, "Line chart");
  }

  /* Grouped bars of shares and clicks per network. */
  function networkChart(el, networks) {
    const bars = (align) => uPlot.paths.bars({ size: [0.38, 48], align });
    const opts = {
      width: width(el), height: 240,
      scales: { x: { time: false, range: [-0.6, networks.length - 0.4] }, y: { range: (u, lo, hi) => [0, Math.max(1, hi)] } },
      series: [
        {},
        { label: "shares", fill: COLORS.shares, stroke: COLORS.shares, paths: bars(-1), points: { show: false } },
        { label: "clicks", fill: "rgba(217, 119, 6, 0.25)", stroke: COLORS.clicks, width: 2, dash: [4, 3], paths: bars(1),
          points: { show: false } },
      ],
      axes: [
        { splits: () => networks.map((_, i) => i), values: () => networks, grid: { show: false }, font: "11px system-ui, sans-serif" },
        {},
      ],
      legend: { show: false },
    };
    const xs = networks.map((_, i) => i);
    el.classList.add("bars");
    return described(new uPlot(opts, [xs, networks.map(() => 0), networks.map(() => 0)], el), el, ["shares", "clicks"],
      "Bar chart");
  }

  /* The canvas named as an image, and a legend of toggle buttons (keyboard-operable) before it. */
  function described(chart, el, names, kind) {
    const canvas = el.querySelector("canvas");
    canvas.setAttribute("role", "img");
    canvas.setAttribute("aria-label", `${kind} of ${names.join(", ")}; the numbers are in the data table below it.`);
    const legend = document.createElement("div");
    legend.className = "legend";
    legend.setAttribute("role", "group");
    legend.setAttribute("aria-label", "Series shown");
    names.forEach((name, i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.series = name;
      button.setAttribute("aria-pressed", "true");
      const key = document.createElement("span");
      key.className = `key key-${name}`;
      key.setAttribute("aria-hidden", "true");
      button.append(key, name);
      button.addEventListener("click", () => {
        const show = button.getAttribute("aria-pressed") !== "true";
        button.setAttribute("aria-pressed", String(show));
        chart.setSeries(i + 1, { show });
      });
      legend.append(button);
    });
    el.prepend(legend);
    return chart;
  }

  /* A <details> data table after a chart: the text alternative of its canvas. Redrawn only on change. */
  function dataTable(el, caption, headings) {
    const details = document.createElement("details");
    details.className = "data";
    const summary = document.createElement("summary");
    summary.textContent = `Data table: ${caption}`;
    const table = document.createElement("table");
    const cap = document.createElement("caption");
    cap.textContent = caption;
    const head = table.createTHead().insertRow();
    for (const h of headings) {
      const th = document.createElement("th");
      th.scope = "col";
      th.textContent = h;
      head.append(th);
    }
    const body = table.createTBody();
    table.prepend(cap);
    details.append(summary, table);
    el.after(details);
    let shown = "";
    return (rows) => {
      const key = JSON.stringify(rows);
      if (key === shown) return;
      shown = key;
      body.replaceChildren(...rows.map((cells) => {
        const tr = document.createElement("tr");
        cells.forEach((value, i) => {
          const td = document.createElement(i === 0 ? "th" : "td");
          if (i === 0) td.scope = "row"; else td.className = "num";
          td.textContent = i === 0 ? value : fmt(value);
          tr.append(td);
        });
        return tr;
      }));
    };
  }

  const hourLabel = (t) => `${new Date(t * 1000).toISOString().slice(0, 13).replace("T", " ")}:00 UTC`;

  function resizeOnWindow(chart, el) {
    window.addEventListener("resize", () => chart.setSize({ width: width(el), height: chart.height }));
  }

  return {
    $, fmt, text, getJSON, withToken, askAgain, AuthError, timeChart, networkChart, resizeOnWindow, dataTable, hourLabel,
  };
})();
