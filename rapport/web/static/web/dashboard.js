/* The home dashboard's charts, drawn with the vendored Chart.js from the JSON the page
   embeds (json_script "dashboard-data"). Optional: without JavaScript (or Chart.js) the
   data tables under the charts carry the same figures, and the chart boxes stay hidden. */
(function () {
  "use strict";

  var ACCENT = "#3b4cca";
  var ACCENT_SOFT = "rgba(59, 76, 202, 0.78)";
  var INK = "#1b1f24";
  var MUTED = "#57606a";
  var GRID = "#eef0f3";

  function moneyFormat(currency) {
    try {
      var format = new Intl.NumberFormat(document.documentElement.lang || undefined, {
        style: "currency",
        currency: currency,
        maximumFractionDigits: 0,
      });
      return function (value) {
        return format.format(value);
      };
    } catch (error) {
      return function (value) {
        return Math.round(value).toLocaleString() + " " + currency;
      };
    }
  }

  function compactFormat(currency) {
    try {
      var format = new Intl.NumberFormat(document.documentElement.lang || undefined, {
        style: "currency",
        currency: currency,
        notation: "compact",
        maximumFractionDigits: 1,
      });
      return function (value) {
        return format.format(value);
      };
    } catch (error) {
      return moneyFormat(currency);
    }
  }

  function plural(n, word) {
    return n + " " + word + (n === 1 ? "" : "s");
  }

  function axis(title, extra) {
    var options = {
      title: { display: true, text: title, color: MUTED, font: { weight: "600" } },
      grid: { color: GRID },
      ticks: { color: MUTED },
    };
    for (var key in extra || {}) options[key] = extra[key];
    return options;
  }

  function baseOptions(currency) {
    return {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { labels: { color: INK, usePointStyle: true, boxHeight: 8 } },
        tooltip: { backgroundColor: INK, padding: 10 },
      },
      scales: {
        y: axis("Amount (" + currency + ")", {
          beginAtZero: true,
          ticks: { color: MUTED, callback: compactFormat(currency) },
        }),
      },
    };
  }

  function show(name) {
    var box = document.querySelector('[data-chart="' + name + '"]');
    if (!box) return null;
    box.hidden = false;
    return box.querySelector("canvas");
  }

  function pipelineChart(data) {
    var canvas = show("pipeline");
    if (!canvas) return;
    var money = moneyFormat(data.currency);
    var options = baseOptions(data.currency);
    options.scales.x = axis("Stage", { grid: { display: false } });
    options.plugins.tooltip.callbacks = {
      label: function (item) {
        return " " + item.dataset.label + ": " + money(item.parsed.y);
      },
      footer: function (items) {
        return items.length ? plural(data.pipeline.count[items[0].dataIndex], "open deal") : "";
      },
    };
    new window.Chart(canvas, {
      data: {
        labels: data.pipeline.labels,
        datasets: [
          {
            type: "bar",
            label: "Amount",
            data: data.pipeline.amount,
            backgroundColor: ACCENT_SOFT,
            borderColor: ACCENT,
            borderWidth: 1,
            pointStyle: "rect",
            order: 2,
          },
          {
            // A dashed line with diamond points: told apart from the bars by shape, not colour.
            type: "line",
            label: "Weighted (× win probability)",
            data: data.pipeline.weighted,
            borderColor: INK,
            backgroundColor: "#ffffff",
            borderDash: [6, 4],
            borderWidth: 2,
            pointStyle: "rectRot",
            pointRadius: 5,
            pointBorderWidth: 2,
            order: 1,
          },
        ],
      },
      options: options,
    });
  }

  function wonChart(data) {
    var canvas = show("won");
    if (!canvas) return;
    var money = moneyFormat(data.currency);
    var options = baseOptions(data.currency);
    options.scales.x = axis("Month closed", { grid: { display: false } });
    options.plugins.legend.display = false;
    options.plugins.tooltip.callbacks = {
      label: function (item) {
        return " Won: " + money(item.parsed.y);
      },
      footer: function (items) {
        return items.length ? plural(data.won.count[items[0].dataIndex], "deal") + " won" : "";
      },
    };
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.won.labels,
        datasets: [
          {
            label: "Won revenue",
            data: data.won.amount,
            backgroundColor: ACCENT_SOFT,
            borderColor: ACCENT,
            borderWidth: 1,
          },
        ],
      },
      options: options,
    });
  }

  function draw() {
    var source = document.getElementById("dashboard-data");
    if (!source || !window.Chart) return;
    var data = JSON.parse(source.textContent);
    window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
    window.Chart.defaults.font.size = 12;
    pipelineChart(data);
    wonChart(data);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
