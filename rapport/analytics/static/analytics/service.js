/* The Service dashboard's charts (the look of analytics.js), drawn with the vendored Chart.js from the JSON the page
   embeds (json_script "service-data"). Optional: without JavaScript the tables carry the
   same figures; once a chart is drawn its table folds away (a <details> the reader can open). */
(function () {
  "use strict";

  var charts = window.RapportAnalyticsCharts;
  if (!charts) return;
  var ACCENT = charts.ACCENT;
  var ACCENT_SOFT = charts.ACCENT_SOFT;
  var SECOND = "#b35c00";
  var INK = charts.INK;
  var MUTED = charts.MUTED;
  var axis = charts.axis;
  var show = charts.show;

  function base(legend) {
    var options = charts.base();
    options.plugins.legend.display = legend;
    return options;
  }

  var bars = charts.bars;

  function times(data) {
    var canvas = show("times");
    if (!canvas || !data.times) return;
    var options = base(true);
    options.scales.x = axis("Measure", { grid: { display: false } });
    options.scales.y = axis("Business hours", { beginAtZero: true });
    options.plugins.tooltip.callbacks = {
      label: function (item) {
        return " " + item.dataset.label + ": " + item.parsed.y + " h";
      },
    };
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.times.labels,
        datasets: [
          { label: "Median", data: data.times.median, backgroundColor: ACCENT_SOFT },
          { label: "90th percentile", data: data.times.p90, backgroundColor: SECOND },
        ],
      },
      options: options,
    });
  }

  function sla(data) {
    var canvas = show("sla");
    if (!canvas || !data.sla) return;
    var options = base(false);
    options.scales.x = axis("Target", { grid: { display: false } });
    options.scales.y = axis("Met (%)", { beginAtZero: true, max: 100 });
    options.plugins.tooltip.callbacks = {
      label: function (item) {
        return " Met: " + item.parsed.y + " %";
      },
    };
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.sla.labels,
        datasets: [{ label: "Met (%)", data: data.sla.values, backgroundColor: ACCENT_SOFT }],
      },
      options: options,
    });
  }

  function forecast(data) {
    var canvas = show("forecast");
    if (!canvas || !data.forecast) return;
    var f = data.forecast;
    var options = base(true);
    options.scales.x = axis("Day", { grid: { display: false }, ticks: { color: MUTED, maxTicksLimit: 12 } });
    options.scales.y = axis("Cases per day", { beginAtZero: true });
    options.plugins.legend.labels.filter = function (item) {
      return item.text.indexOf("lower") === -1;
    };
    var none = { radius: 0, borderWidth: 0, pointRadius: 0 };
    function band(label, values, fill, colour) {
      var set = { label: label, data: values, borderColor: "transparent", backgroundColor: colour, fill: fill, spanGaps: false };
      for (var key in none) set[key] = none[key];
      return set;
    }
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: f.labels,
        datasets: [
          { label: "Cases", data: f.actual, borderColor: INK, backgroundColor: INK, pointRadius: 0, borderWidth: 1.5 },
          { label: "Forecast", data: f.mean, borderColor: ACCENT, backgroundColor: ACCENT, pointRadius: 0, borderWidth: 2, borderDash: [6, 3] },
          band("95 % lower", f.lower95, false, "rgba(59, 76, 202, 0.12)"),
          band("95 % interval", f.upper95, "-1", "rgba(59, 76, 202, 0.12)"),
          band("80 % lower", f.lower80, false, "rgba(59, 76, 202, 0.22)"),
          band("80 % interval", f.upper80, "-1", "rgba(59, 76, 202, 0.22)"),
        ],
      },
      options: options,
    });
  }

  function draw() {
    var node = document.getElementById("service-data");
    if (!node || !window.Chart) return;
    var data = JSON.parse(node.textContent);
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.font.size = 12;
    bars("weekday", data.weekday, "Weekday", "Cases");
    bars("hour", data.hour, "Hour of day", "Cases");
    bars("channel", data.channel, "Channel", "Cases", true);
    bars("category", data.category, "Category", "Cases", true);
    bars("backlog", data.backlog, "Age", "Open cases");
    times(data);
    sla(data);
    forecast(data);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
