/* Campaign report charts, drawn with the vendored Chart.js from the JSON the page embeds
   (json_script "campaign-data"); without JavaScript the tables carry the same figures. */
(function () {
  "use strict";
  var ACCENT = "#3b4cca";
  var ACCENT_SOFT = "rgba(59, 76, 202, 0.78)";
  var SECOND = "#1a7f37";

  function show(name) {
    var box = document.querySelector('[data-chart="' + name + '"]');
    if (!box) return null;
    box.hidden = false;
    var table = document.querySelector('[data-chart-table="' + name + '"]');
    if (table) table.open = false;
    return box.querySelector("canvas");
  }

  function options() {
    return { responsive: true, maintainAspectRatio: false, animation: false, scales: { y: { beginAtZero: true } } };
  }

  function draw() {
    var node = document.getElementById("campaign-data");
    if (!node || !window.Chart) return;
    var data = JSON.parse(node.textContent);
    var canvas = show("funnel");
    if (canvas) {
      new window.Chart(canvas, {
        type: "bar",
        data: { labels: data.funnel.labels, datasets: [{ label: "Recipients", data: data.funnel.values, backgroundColor: ACCENT_SOFT, borderColor: ACCENT, borderWidth: 1 }] },
        options: options(),
      });
    }
    if (data.daily.labels.length) {
      canvas = show("daily");
      if (canvas) {
        new window.Chart(canvas, {
          type: "line",
          data: { labels: data.daily.labels, datasets: [
            { label: "Opened", data: data.daily.opened, borderColor: ACCENT, backgroundColor: ACCENT, pointStyle: "circle" },
            { label: "Clicked", data: data.daily.clicked, borderColor: SECOND, backgroundColor: SECOND, pointStyle: "rect", borderDash: [6, 3] },
          ] },
          options: options(),
        });
      }
    }
    if (data.variants.labels.length) {
      canvas = show("variants");
      if (canvas) {
        new window.Chart(canvas, {
          type: "bar",
          data: { labels: data.variants.labels, datasets: [
            { label: "Open rate (%)", data: data.variants.open_rate, backgroundColor: ACCENT_SOFT },
            { label: "Click rate (%)", data: data.variants.click_rate, backgroundColor: SECOND },
          ] },
          options: options(),
        });
      }
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
