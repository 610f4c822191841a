/* The Forecast page's charts (the look of analytics.js), drawn with the vendored Chart.js
   from the JSON the page embeds (json_script "forecast-data"). Optional: without JavaScript
   the tables carry the same figures. */
(function () {
  "use strict";

  var charts = window.RapportAnalyticsCharts;
  if (!charts) return;

  function money(value) {
    return Math.round(value).toLocaleString();
  }

  function histogram(data) {
    var canvas = charts.show("histogram");
    if (!canvas || !data || !data.labels.length) return;
    var options = charts.base();
    options.plugins.legend.display = true;
    options.scales.x = charts.axis("Total won in the period", {
      grid: { display: false },
      ticks: { color: charts.MUTED, callback: function (v, i) { return money(data.labels[i]); } },
    });
    options.scales.y = charts.axis("Runs", { beginAtZero: true });
    // Bins inside P10–P90 are solid, the tails pale: the range reads without colour too.
    var inside = data.labels.map(function (x, i) {
      return x >= data.p10 && x <= data.p90 ? data.values[i] : 0;
    });
    var outside = data.labels.map(function (x, i) {
      return x >= data.p10 && x <= data.p90 ? 0 : data.values[i];
    });
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "P10–P90", data: inside, backgroundColor: charts.ACCENT_SOFT, stack: "s" },
          { label: "Tails", data: outside, backgroundColor: "rgba(59, 76, 202, 0.22)", stack: "s" },
        ],
      },
      options: options,
    });
  }

  function backtest(data) {
    var canvas = charts.show("backtest");
    if (!canvas || !data || !data.labels.length) return;
    var options = charts.base();
    options.scales.x = charts.axis("Period", { grid: { display: false } });
    options.scales.y = charts.axis("Amount", { beginAtZero: true });
    new window.Chart(canvas, {
      data: {
        labels: data.labels,
        datasets: [
          { type: "line", label: "Actual", data: data.actual, borderColor: charts.INK, backgroundColor: charts.INK, pointStyle: "rectRot", pointRadius: 5 },
          { type: "line", label: "P50", data: data.p50, borderColor: charts.ACCENT, backgroundColor: charts.ACCENT, pointRadius: 3 },
          { type: "line", label: "Naive", data: data.naive, borderColor: charts.MUTED, backgroundColor: charts.MUTED, borderDash: [6, 4], pointStyle: "triangle", pointRadius: 4 },
          { type: "bar", label: "P10–P90", data: data.range, backgroundColor: "rgba(59, 76, 202, 0.22)" },
        ],
      },
      options: options,
    });
  }

  function draw() {
    var node = document.getElementById("forecast-data");
    if (!node || !window.Chart) return;
    var data = JSON.parse(node.textContent);
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.font.size = 12;
    histogram(data.histogram);
    backtest(data.backtest);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
