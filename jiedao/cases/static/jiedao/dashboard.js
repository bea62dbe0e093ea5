/* 驾驶舱 charts: draws the trend, categories and resolution levels from the JSON in #dash-data
   with window.echarts (served from node_modules, no CDN). Without JS, or if echarts failed to
   load, the page keeps its tables, which hold the same numbers. Tooltips are drawn on the canvas
   (renderMode "richText"): HTML tooltips carry style attributes, which the Content-Security-Policy
   refuses. */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  function options(kind, data) {
    var labels = data.labels || {};
    var grid = { left: 40, right: 16, top: 36, bottom: 40, containLabel: true };
    if (kind === "trend") {
      return {
        tooltip: { trigger: "axis", renderMode: "richText" },
        legend: { top: 0 },
        grid: grid,
        xAxis: { type: "category", data: data.trend.map(function (r) { return r.month; }) },
        yAxis: { type: "value", minInterval: 1 },
        series: ["reported", "resolved", "closed"].map(function (key) {
          return { name: labels[key] || key, type: "line",
                   data: data.trend.map(function (r) { return r[key]; }) };
        })
      };
    }
    if (kind === "categories") {
      if (!data.categories.length) return null;
      var cats = data.categories.slice().reverse();
      return {
        tooltip: { trigger: "axis", renderMode: "richText", axisPointer: { type: "shadow" } },
        legend: { top: 0 },
        grid: grid,
        xAxis: { type: "value", minInterval: 1 },
        yAxis: { type: "category", data: cats.map(function (c) { return c.name; }) },
        series: ["reported", "resolved"].map(function (key) {
          return { name: labels[key] || key, type: "bar", data: cats.map(function (c) { return c[key]; }) };
        })
      };
    }
    if (kind === "levels") {
      return {
        tooltip: { trigger: "axis", renderMode: "richText", axisPointer: { type: "shadow" } },
        grid: grid,
        xAxis: { type: "category", data: data.levels.map(function (l) { return l.label; }) },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", data: data.levels.map(function (l) { return l.value; }) }]
      };
    }
    return null;
  }

  ready(function () {
    var source = document.getElementById("dash-data");
    if (!source || !window.echarts) return;
    var data;
    try { data = JSON.parse(source.textContent); } catch (e) { return; }
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var option = options(el.getAttribute("data-chart"), data);
      if (!option) return;
      el.hidden = false;
      el.style.width = "100%";
      el.style.height = "280px";
      var chart = window.echarts.init(el);
      chart.setOption(option);
      charts.push(chart);
      // The chart shows the numbers now; the table folds away under "数据表" (still there to read).
      var table = el.nextElementSibling;
      if (table && table.tagName === "TABLE") {
        var details = document.createElement("details");
        var summary = document.createElement("summary");
        summary.textContent = data.labels.table || "数据表";
        details.appendChild(summary);
        table.parentNode.insertBefore(details, table);
        details.appendChild(table);
      }
    });
    window.addEventListener("resize", function () {
      charts.forEach(function (chart) { chart.resize(); });
    });
  });
})();
