// The status page: fetches the status JSON (the URL is the main element's
// data-status-url) every few seconds and renders it. ?refresh=N in the
// page's URL sets the interval in seconds (1 to 60; 5 by default).
(function () {
  "use strict";

  const root = document.getElementById("status");
  const url = root.dataset.statusUrl;
  const requested = parseInt(new URLSearchParams(location.search).get("refresh"), 10);
  const every = (requested >= 1 && requested <= 60 ? requested : 5) * 1000;
  const rpsChart = OctoChart.line(document.getElementById("rps-chart"), { label: "requests/s", color: "#1f5fbf", decimals: 2 });
  const p99Chart = OctoChart.line(document.getElementById("p99-chart"), { label: "p99 ms", color: "#8a3ab9",
    fill: "rgba(138, 58, 185, 0.12)", decimals: 1 });

  function text(id, value) {
    document.getElementById(id).textContent = value;
  }

  function duration(seconds) {
    const d = Math.floor(seconds / 86400), h = Math.floor(seconds % 86400 / 3600),
      m = Math.floor(seconds % 3600 / 60), s = Math.floor(seconds % 60);
    if (d > 0) { return d + "d " + h + "h " + m + "m"; }
    if (h > 0) { return h + "h " + m + "m"; }
    if (m > 0) { return m + "m " + s + "s"; }
    return s + "s";
  }

  function badge(kind, label) {
    const el = document.getElementById("state");
    el.className = "badge badge-" + kind;
    el.textContent = label;
    root.dataset.state = kind;
  }

  function render(s) {
    badge(s.status === "ok" ? "ok" : "degraded", s.status === "ok" ? "Up: operational" : "Degraded");
    text("version", s.version);
    text("uptime", duration(s.uptime_seconds));
    text("locks", s.locks_held.toLocaleString("en"));
    text("sessions", s.sessions_open.toLocaleString("en"));
    text("rps", s.requests_per_second.toFixed(2));
    text("p99", s.p99_ms.toFixed(1) + " ms");
    const h = OctoChart.history(s);
    rpsChart.update(h.xs, h.rps);
    p99Chart.update(h.xs, h.p99);
    const total = s.history.reduce(function (n, m) { return n + m.requests; }, 0);
    text("rps-summary", total.toLocaleString("en") + " API requests in the last hour; " +
      s.requests_per_second.toFixed(2) + " per second over the last minute.");
    text("p99-summary", "p99 latency over the last minute: " + s.p99_ms.toFixed(1) + " ms.");
    text("updated", "Updated " + new Date().toLocaleTimeString("en-GB") + "; refreshes every " + every / 1000 + " s.");
    root.dataset.version = s.version;
    root.dataset.requests = String(total);
  }

  function refresh() {
    fetch(url, { cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (res) {
        if (!res.ok) { throw new Error("status " + res.status); }
        return res.json();
      })
      .then(render)
      .catch(function () { badge("unknown", "Unreachable: retrying"); })
      .finally(function () { setTimeout(refresh, every); });
  }

  refresh();
})();
