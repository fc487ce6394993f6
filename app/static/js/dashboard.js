// Draw the dashboard's charts with Apache ECharts from the figures the page carries
// (<script type="application/json" id="kpi-series">); each chart says when it is drawn.
(function () {
  var zh = (document.documentElement.lang || "").indexOf("zh") === 0;
  var t = function (zhText, enText) { return zh ? zhText : enText; };

  function draw(el, option) {
    var chart = window.echarts.init(el, null, { renderer: "svg" });
    chart.setOption(option);
    el.dataset.rendered = "true";
    window.addEventListener("resize", function () { chart.resize(); });
    return chart;
  }

  var charts = {
    daily: function (data) {
      return {
        tooltip: { trigger: "axis" },
        legend: { data: [t("受理", "Received"), t("办结", "Completed")] },
        xAxis: { type: "category", data: data.daily.map(function (d) { return d.day.slice(5); }) },
        yAxis: { type: "value", minInterval: 1 },
        series: [
          { name: t("受理", "Received"), type: "line", data: data.daily.map(function (d) { return d.received; }) },
          { name: t("办结", "Completed"), type: "line", data: data.daily.map(function (d) { return d.completed; }) }
        ]
      };
    },
    departments: function (data) {
      return {
        tooltip: {},
        xAxis: { type: "category", data: data.departments.map(function (d) { return d.name; }) },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ type: "bar", name: t("办件量", "Tasks"), data: data.departments.map(function (d) { return d.tasks_completed; }) }]
      };
    },
    reviews: function (data) {
      var names = { 5: t("非常满意", "Very satisfied"), 4: t("满意", "Satisfied"), 3: t("基本满意", "Basically satisfied"),
                    2: t("不满意", "Unsatisfied"), 1: t("非常不满意", "Very unsatisfied") };
      return {
        tooltip: { trigger: "item" },
        series: [{ type: "pie", radius: ["40%", "70%"],
                   data: data.reviews.map(function (r) { return { name: names[r.level], value: r.count }; }) }]
      };
    },
    units: function (data) {
      return {
        tooltip: {},
        xAxis: { type: "category", data: data.units.map(function (u) { return u.name; }) },
        yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
        series: [{ type: "bar", name: t("按时办结率", "On time"),
                   data: data.units.map(function (u) { return u.on_time_rate === null ? 0 : Math.round(u.on_time_rate * 1000) / 10; }) }]
      };
    }
  };

  document.addEventListener("DOMContentLoaded", function () {
    var source = document.getElementById("kpi-series");
    if (!source || !window.echarts) { return; }
    var data = JSON.parse(source.textContent);
    document.querySelectorAll(".chart[data-chart]").forEach(function (el) {
      var build = charts[el.dataset.chart];
      if (build) { draw(el, build(data)); }
    });
  });
})();
