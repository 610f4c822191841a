/* The Sales reports' charts (the look of analytics.js), drawn with the vendored Chart.js from
   the JSON the page embeds (json_script "sales-data"). Optional: without JavaScript the
   tables carry the same figures. */
(function () {
  "use strict";

  var charts = window.RapportAnalyticsCharts;
  if (!charts) return;

  function bars(name, series, xTitle, yTitle, horizontal) {
    var canvas = charts.show(name);
    if (!canvas || !series || !series.labels.length) return;
    var options = charts.base();
    options.plugins.legend.display = false;
    var value = charts.axis(yTitle, { beginAtZero: true, ticks: { color: charts.MUTED } });
    var label = charts.axis(xTitle, { grid: { display: false } });
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
        datasets: [{ label: yTitle, data: series.values, backgroundColor: charts.ACCENT_SOFT }],
      },
      options: options,
    });
  }

  function draw() {
    var node = document.getElementById("sales-data");
    if (!node || !window.Chart) return;
    var data = JSON.parse(node.textContent);
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.font.size = 12;
    bars("funnel", data.funnel, "Stage", "Deals");
    bars("stages", data.stages, "Stage", "Median days");
    bars("reasons", data.reasons, "Reason", "Deals", true);
    bars("reps", data.reps, "Rep", "Activities", true);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
