/* The Perfect order page's charts (the look of analytics.js), drawn with the vendored Chart.js
   from the JSON the page embeds (json_script "perfect-data"). Without JavaScript the tables
   carry the same figures; once a chart is drawn its table folds away. */
(function () {
  "use strict";

  function rates(charts, name, series, title) {
    var canvas = charts.show(name);
    if (!canvas || !series || !series.labels.length) return;
    var options = charts.base();
    options.indexAxis = "y";
    options.scales.x = charts.axis("Orders (%)", { beginAtZero: true, max: 100 });
    options.scales.y = charts.axis(title, { grid: { display: false }, ticks: { autoSkip: false } });
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: series.labels,
        datasets: [
          { label: "Perfect", data: series.perfect, backgroundColor: charts.ACCENT },
          { label: "On time in full", data: series.otif, backgroundColor: charts.ACCENT_SOFT },
        ],
      },
      options: options,
    });
  }

  function draw() {
    var charts = window.RapportAnalyticsCharts;
    var node = document.getElementById("perfect-data");
    if (!charts || !node || !window.Chart) return;
    var data = JSON.parse(node.textContent);
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.font.size = 12;
    rates(charts, "po-channel", data.channel, "Channel");
    rates(charts, "po-product", data.product, "Product");
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
