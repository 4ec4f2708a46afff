/* Shared by the ops pages: the admin token (sessionStorage), authorised fetches, formatting, charts. */
"use strict";

const Ops = (() => {
  const KEY = "ops-admin-token";
  const COLORS = { views: "#2563eb", shares: "#16a34a", clicks: "#d97706" };
  const FILLS = { views: "rgba(37, 99, 235, 0.12)" };

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

  const width = (el) => Math.max(320, el.clientWidth || 600);

  /* Lines over time; views on the left axis, shares and clicks on the right. */
  function timeChart(el, names) {
    const series = [{}].concat(names.map((name) => ({
      label: name, stroke: COLORS[name], fill: FILLS[name], width: 2, scale: name === "views" ? "views" : "sc",
      points: { show: false },
    })));
    const opts = {
      width: width(el), height: 260, series,
      scales: { x: { time: true }, views: {}, sc: {} },
      axes: [{}, { scale: "views", label: "views" }, { scale: "sc", side: 1, label: "shares, clicks", grid: { show: false } }],
      legend: { live: true },
    };
    const empty = [[]].concat(names.map(() => []));
    return new uPlot(opts, empty, el);
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
        { label: "clicks", fill: COLORS.clicks, stroke: COLORS.clicks, paths: bars(1), points: { show: false } },
      ],
      axes: [
        { splits: () => networks.map((_, i) => i), values: () => networks, grid: { show: false }, font: "11px system-ui, sans-serif" },
        {},
      ],
      legend: { live: false },
    };
    const xs = networks.map((_, i) => i);
    return new uPlot(opts, [xs, networks.map(() => 0), networks.map(() => 0)], el);
  }

  function resizeOnWindow(chart, el) {
    window.addEventListener("resize", () => chart.setSize({ width: width(el), height: chart.height }));
  }

  return { $, fmt, text, getJSON, withToken, askAgain, AuthError, timeChart, networkChart, resizeOnWindow };
})();
