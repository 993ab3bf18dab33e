// OctoChart: a small line chart of a time series, drawn by uPlot (loaded
// before this file). Reusable by any page served with these assets:
//
//   const c = OctoChart.line(element, {label: "requests/s", color: "#1f5fbf", decimals: 1});
//   c.update([unixSeconds, …], [value, …]);   // redraws; call as often as new data comes
//   const h = OctoChart.history(statusJSON);  // {xs, rps, p99} from GET /status
//
// The chart fills the element's width and follows its resizes. After each
// update the element carries data-points (how many) and data-sum (their
// sum), which tests and scripts may read; nothing else in the page is
// touched. No inline styles or scripts: it runs under a strict CSP.
(function () {
  "use strict";

  function width(el) {
    return Math.max(200, Math.floor(el.clientWidth || 300));
  }

  function line(el, opts) {
    opts = opts || {};
    const decimals = opts.decimals === undefined ? 1 : opts.decimals;
    const fmt = function (v) { return v == null ? "–" : v.toFixed(decimals); };
    const options = {
      width: width(el),
      height: opts.height || 180,
      legend: { show: opts.legend !== false },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
      axes: [
        { stroke: "#333", grid: { stroke: "#e3e3e3" }, ticks: { stroke: "#ccc" } },
        { stroke: "#333", grid: { stroke: "#e3e3e3" }, ticks: { stroke: "#ccc" }, size: 56,
          values: function (u, vals) { return vals.map(function (v) { return +v.toFixed(decimals); }); } },
      ],
      series: [
        {},
        { label: opts.label || "value", stroke: opts.color || "#1f5fbf", width: 2,
          fill: opts.fill || "rgba(31, 95, 191, 0.12)", points: { show: false }, value: function (u, v) { return fmt(v); } },
      ],
    };
    const chart = new uPlot(options, [[], []], el);
    let lastWidth = options.width;
    if (window.ResizeObserver) {
      new ResizeObserver(function () {
        const w = width(el);
        if (w !== lastWidth) {
          lastWidth = w;
          chart.setSize({ width: w, height: options.height });
        }
      }).observe(el);
    }
    return {
      chart: chart,
      update: function (xs, ys) {
        chart.setData([xs, ys]);
        let sum = 0;
        for (let i = 0; i < ys.length; i++) { sum += ys[i] || 0; }
        el.dataset.points = String(ys.length);
        el.dataset.sum = String(sum);
      },
    };
  }

  // history turns /status's per-minute history into the series the
  // charts draw: minute starts (unix seconds), requests per second (the
  // current minute counts only the seconds it has run) and p99 in ms.
  function history(s) {
    const xs = [], rps = [], p99 = [];
    const last = s.history.length - 1;
    s.history.forEach(function (m, i) {
      const start = Date.parse(m.minute) / 1000;
      const secs = i === last ? Math.min(60, Math.max(1, Date.now() / 1000 - start)) : 60;
      xs.push(start);
      rps.push(m.requests / secs);
      p99.push(m.p99_ms);
    });
    return { xs: xs, rps: rps, p99: p99 };
  }

  window.OctoChart = { line: line, history: history };
})();
