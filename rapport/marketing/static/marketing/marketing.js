/* Campaign ROI chart (Chart.js, vendored). The table on the page holds the same figures. */
(function () {
  "use strict";
  function start() {
    var node = document.getElementById("marketing-data");
    if (!node || !window.Chart) return;
    var data = JSON.parse(node.textContent);
    var wrap = document.querySelector('[data-chart="roi"]');
    if (!wrap || !data.labels || !data.labels.length) return;
    wrap.hidden = false;
    new window.Chart(document.getElementById("chart-roi"), {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [
          { label: "Cost", data: data.cost, backgroundColor: "#c7d2fe", borderColor: "#3730a3", borderWidth: 1 },
          { label: "Won revenue", data: data.revenue, backgroundColor: "#ffffff", borderColor: "#111827", borderWidth: 2 }
        ]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { title: { display: true, text: "Campaign" } },
          y: { beginAtZero: true, title: { display: true, text: "Amount" } }
        },
        plugins: { legend: { position: "bottom" } }
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
