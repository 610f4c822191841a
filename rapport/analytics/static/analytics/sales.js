/* The Sales reports' charts (the look of analytics.js), drawn with the vendored Chart.js from
   the JSON the page embeds (json_script "sales-data"). Optional: without JavaScript the
   tables carry the same figures. */
(function () {
  "use strict";

  var charts = window.RapportAnalyticsCharts;
  if (!charts) return;

  var bars = charts.bars;

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
