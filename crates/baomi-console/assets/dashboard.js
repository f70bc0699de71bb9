// The dashboard's charts (ECharts, vendored): each click opens the queue filtered by it.
(function () {
  var data = JSON.parse(document.getElementById("dashboard-data").textContent);
  var period = "from=" + encodeURIComponent(data.from) + "&to=" + encodeURIComponent(data.to);
  function open(dim, key) {
    var q = period;
    if (dim === "day") { q = "from=" + key + "&to=" + key; }
    else if (key !== "-") { q += "&" + dim + "=" + encodeURIComponent(key); }
    window.location = "/incidents?" + q;
  }
  var palette = ["#b71c1c", "#1d4f91", "#a66300", "#2e7d32", "#6a1b9a", "#00838f", "#5d4037", "#c2410c"];
  function chart(id, dim, kind) {
    var el = document.getElementById(id);
    var s = data[dim];
    if (!el || !s) { return; }
    var c = echarts.init(el);
    var option = { color: palette, title: { text: data.titles[dim], left: 10, top: 8, textStyle: { fontSize: 14 } },
      tooltip: { trigger: kind === "pie" ? "item" : "axis" }, grid: { left: 50, right: 20, top: 50, bottom: 40, containLabel: true } };
    if (kind === "pie") {
      option.series = [{ type: "pie", radius: ["35%", "65%"], top: 30,
        data: s.labels.map(function (l, i) { return { name: l, value: s.values[i], key: s.keys[i] }; }) }];
    } else {
      option.xAxis = { type: "category", data: s.labels, axisLabel: { interval: 0, rotate: s.labels.length > 8 ? 30 : 0 } };
      option.yAxis = { type: "value", minInterval: 1 };
      option.series = [{ type: kind, data: s.values, barMaxWidth: 40, smooth: true, areaStyle: kind === "line" ? {} : undefined }];
    }
    c.setOption(option);
    c.on("click", function (p) { open(dim, s.keys[p.dataIndex]); });
    window.addEventListener("resize", function () { c.resize(); });
  }
  chart("chart-day", "day", "bar");
  chart("chart-level", "level", "pie");
  chart("chart-disposition", "disposition", "pie");
  chart("chart-channel", "channel", "bar");
  chart("chart-department", "department", "bar");
  chart("chart-rule", "rule", "bar");
})();
