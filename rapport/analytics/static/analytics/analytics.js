/* Analytics charts, drawn with the vendored Chart.js from the JSON the page embeds
   (json_script "analytics-data"). Optional: without JavaScript the tables carry the same
   figures and the chart boxes stay hidden; once a chart is drawn its table folds away
   (a <details> the reader can open again). */
(function () {
  "use strict";

  var ACCENT = "#3b4cca";
  var ACCENT_SOFT = "rgba(59, 76, 202, 0.78)";
  var INK = "#1b1f24";
  var MUTED = "#57606a";
  var GRID = "#eef0f3";

  function axis(title, extra) {
    var options = {
      title: { display: true, text: title, color: MUTED, font: { weight: "600" } },
      grid: { color: GRID },
      ticks: { color: MUTED },
    };
    for (var key in extra || {}) options[key] = extra[key];
    return options;
  }

  function base() {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { labels: { color: INK, usePointStyle: true, boxHeight: 8 } },
        tooltip: { backgroundColor: INK, padding: 10 },
      },
      scales: {},
    };
  }

  function show(name) {
    var box = document.querySelector('[data-chart="' + name + '"]');
    if (!box) return null;
    box.hidden = false;
    var table = document.querySelector('[data-chart-table="' + name + '"]');
    if (table) table.open = false;
    return box.querySelector("canvas");
  }

  function segmentsChart(data) {
    var canvas = show("segments");
    if (!canvas || !data.segments) return;
    var options = base();
    options.indexAxis = "y";
    options.scales.x = axis("Share (%)", { beginAtZero: true, suggestedMax: 50 });
    options.scales.y = axis("Segment", { grid: { display: false } });
    options.plugins.tooltip.callbacks = {
      label: function (item) {
        return " " + item.dataset.label + ": " + item.parsed.x + " %";
      },
      footer: function (items) {
        if (!items.length) return "";
        var n = data.segments.customers[items[0].dataIndex];
        return n + " customer" + (n === 1 ? "" : "s");
      },
    };
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.segments.labels,
        datasets: [
          {
            label: "Share of customers",
            data: data.segments.customer_share,
            backgroundColor: ACCENT_SOFT,
            borderColor: ACCENT,
            borderWidth: 1,
            pointStyle: "rect",
          },
          {
            // Hatched by a dark border and white fill: told apart by more than colour.
            label: "Share of revenue",
            data: data.segments.revenue_share,
            backgroundColor: "#ffffff",
            borderColor: INK,
            borderWidth: 2,
            pointStyle: "rectRot",
          },
        ],
      },
      options: options,
    });
  }

  function clvChart(data) {
    var canvas = show("clv");
    if (!canvas || !data.clv) return;
    var options = base();
    options.plugins.legend.display = false;
    options.scales.x = axis("CLV band (" + data.currency + ")", {
      grid: { display: false },
      ticks: { color: MUTED, maxRotation: 60, autoSkip: true },
    });
    options.scales.y = axis("Customers", { beginAtZero: true, ticks: { color: MUTED, precision: 0 } });
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.clv.labels,
        datasets: [
          {
            label: "Customers",
            data: data.clv.customers,
            backgroundColor: ACCENT_SOFT,
            borderColor: ACCENT,
            borderWidth: 1,
            barPercentage: 1,
            categoryPercentage: 0.95,
          },
        ],
      },
      options: options,
    });
  }

  function calibrationChart(data) {
    var canvas = show("calibration");
    if (!canvas || !data.calibration) return;
    var options = base();
    options.scales.x = axis("Repeat purchases before the holdout (calibration)", { grid: { display: false } });
    options.scales.y = axis("Holdout purchases (mean)", { beginAtZero: true });
    options.plugins.tooltip.callbacks = {
      label: function (item) {
        return " " + item.dataset.label + ": " + Number(item.parsed.y).toFixed(2);
      },
      footer: function (items) {
        if (!items.length) return "";
        var n = data.calibration.customers[items[0].dataIndex];
        return n + " customer" + (n === 1 ? "" : "s");
      },
    };
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.calibration.labels,
        datasets: [
          {
            label: "Actual",
            data: data.calibration.actual,
            borderColor: INK,
            backgroundColor: INK,
            borderWidth: 2,
            pointStyle: "circle",
            pointRadius: 4,
          },
          {
            label: "Predicted (BG/NBD)",
            data: data.calibration.predicted,
            borderColor: ACCENT,
            backgroundColor: "#ffffff",
            borderDash: [6, 4],
            borderWidth: 2,
            pointStyle: "rectRot",
            pointRadius: 5,
            pointBorderWidth: 2,
          },
        ],
      },
      options: options,
    });
  }

  function projectionChart(data) {
    var canvas = show("projection");
    if (!canvas || !data.projection) return;
    var options = base();
    options.scales.x = axis("Months since the first purchase", { grid: { display: false } });
    options.scales.y = axis("Accounts still customers (%)", { beginAtZero: true, suggestedMax: 100 });
    options.plugins.tooltip.callbacks = {
      label: function (item) {
        if (item.parsed.y === null) return "";
        return " " + item.dataset.label + ": " + item.parsed.y + " %";
      },
    };
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: data.projection.labels,
        datasets: [
          {
            label: "Actual",
            data: data.projection.actual,
            borderColor: INK,
            backgroundColor: INK,
            borderWidth: 2,
            pointStyle: "circle",
            pointRadius: 3,
            spanGaps: false,
          },
          {
            label: "Projected (sBG)",
            data: data.projection.projected,
            borderColor: ACCENT,
            backgroundColor: "#ffffff",
            borderDash: [6, 4],
            borderWidth: 2,
            pointStyle: "rectRot",
            pointRadius: 3,
            pointBorderWidth: 2,
          },
        ],
      },
      options: options,
    });
  }

  // A bar chart of {labels, values} on the canvas named `name` (horizontal: bars run
  // sideways, for long labels); shared by the Sales and Service pages.
  function bars(name, series, xTitle, yTitle, horizontal) {
    if (!series || !series.labels.length) return;
    var canvas = show(name);
    if (!canvas) return;
    var options = base();
    options.plugins.legend.display = false;
    var value = axis(yTitle, { beginAtZero: true, ticks: { color: MUTED, precision: 0 } });
    var label = axis(xTitle, { grid: { display: false } });
    if (horizontal) {
      options.indexAxis = "y";
      options.scales.x = value;
      options.scales.y = label;
    } else {
      options.scales.x = label;
      options.scales.y = value;
    }
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: series.labels,
        datasets: [{ label: yTitle, data: series.values, backgroundColor: ACCENT_SOFT }],
      },
      options: options,
    });
  }

  // The same look for the other analytics pages' charts (sales.js, service.js).
  window.RapportAnalyticsCharts = {
    bars: bars,
    ACCENT: ACCENT,
    ACCENT_SOFT: ACCENT_SOFT,
    INK: INK,
    MUTED: MUTED,
    axis: axis,
    base: base,
    show: show,
  };

  function draw() {
    var source = document.getElementById("analytics-data");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.font.size = 12;
    segmentsChart(data);
    clvChart(data);
    calibrationChart(data);
    projectionChart(data);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
