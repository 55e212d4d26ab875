/* The big screen: the event labels from /screen/labels, a snapshot from /screen/data, then live snapshots
   over SSE (/screen/stream).
   All URLs are /screen-prefixed so the page works behind the gateway. No personal data is shown. */
(function () {
  "use strict";
  let TOPIC_ZH = {};  // event labels from the event registry (/screen/labels)
  const STATUS_ZH = { new: "新发现", assigned: "已指派", handled: "已处置", dismissed: "已排除" };
  const charts = {};
  let lastTickerId = 0;
  const $ = (sel) => document.querySelector(sel);
  const pct = (v) => (v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%");
  const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

  function chart(id) {
    if (!window.echarts) return null;
    if (!charts[id]) charts[id] = window.echarts.init(document.getElementById(id), null, { renderer: "canvas" });
    return charts[id];
  }
  const axis = { axisLine: { lineStyle: { color: "#3a5a8c" } }, axisLabel: { color: "#a9c1e6", fontSize: 14 },
    splitLine: { lineStyle: { color: "#14305e" } } };

  function render(s) {
    $("#street").textContent = s.street || "";
    for (const [k, v] of Object.entries(s.headline)) {
      const el = document.querySelector(`[data-metric="${k}"]`);
      if (el) el.textContent = String(v);
    }
    const dom = chart("by-domain");
    if (dom) dom.setOption({
      animation: false, grid: { left: 110, right: 40, top: 6, bottom: 20 },
      xAxis: { type: "value", ...axis }, yAxis: { type: "category", inverse: true, data: s.by_domain.map((d) => d.name), ...axis },
      series: [{ type: "bar", data: s.by_domain.map((d) => d.count), itemStyle: { color: "#2f9bff" },
        label: { show: true, position: "right", color: "#cfe3ff" } }],
    });
    const grade = chart("by-grade");
    if (grade) grade.setOption({
      animation: false,
      series: [{ type: "pie", radius: ["45%", "75%"], label: { color: "#cfe3ff", fontSize: 15, formatter: "{b} {c}" },
        data: s.by_grade.map((g) => ({ name: g.name, value: g.count, itemStyle: { color: g.colour } })) }],
    });
    $("#grade-legend").innerHTML = s.by_grade.map((g) =>
      `<span data-grade="${esc(g.code)}"><i style="background:${esc(g.colour)}"></i>${esc(g.name)} ${g.count}（在办 ${g.open}）</span>`).join("");
    const heat = chart("heatmap");
    if (heat) {
      const rows = Math.max(...s.grids.map((g) => g.row)) + 1, cols = Math.max(...s.grids.map((g) => g.col)) + 1;
      const max = Math.max(1, ...s.grids.map((g) => g.open));
      heat.setOption({
        animation: false, grid: { left: 10, right: 10, top: 10, bottom: 60 },
        tooltip: { formatter: (p) => { const g = s.grids[p.dataIndex]; return `${esc(g.name)}<br>在办 ${g.open} / 总量 ${g.count}`; } },
        xAxis: { type: "category", data: [...Array(cols).keys()], show: false },
        yAxis: { type: "category", data: [...Array(rows).keys()], show: false, inverse: true },
        visualMap: { min: 0, max, calculable: false, orient: "horizontal", left: "center", bottom: 8,
          inRange: { color: ["#0f2a55", "#1E88E5", "#FDD835", "#FB8C00", "#E53935"] }, textStyle: { color: "#a9c1e6" } },
        series: [{ type: "heatmap", data: s.grids.map((g) => [g.col, g.row, g.open]),
          label: { show: true, color: "#fff", fontSize: 13, formatter: (p) => s.grids[p.dataIndex].name.replace("第", "").replace("网格", "") },
          itemStyle: { borderColor: "#050b1a", borderWidth: 2 } }],
      });
    }
    const trend = chart("trend");
    if (trend) trend.setOption({
      animation: false, grid: { left: 50, right: 20, top: 30, bottom: 30 },
      legend: { data: ["受理", "办结"], textStyle: { color: "#a9c1e6" }, right: 10, top: 0 },
      xAxis: { type: "category", data: s.trend.map((t) => t.period.slice(5)), ...axis },
      yAxis: { type: "value", ...axis },
      series: [
        { name: "受理", type: "line", smooth: true, data: s.trend.map((t) => t.reported), itemStyle: { color: "#2f9bff" }, areaStyle: { opacity: 0.15 } },
        { name: "办结", type: "line", smooth: true, data: s.trend.map((t) => t.resolved), itemStyle: { color: "#39d98a" } },
      ],
    });
    $("#ranking tbody").innerHTML = s.departments.slice(0, 7).map((d) =>
      `<tr><td>${d.rank ?? "—"}</td><td>${esc(d.name)}</td><td class="num">${pct(d.response_rate)}</td>` +
      `<td class="num">${pct(d.resolution_rate)}</td><td class="num">${pct(d.satisfaction_rate)}</td></tr>`).join("");
    $("#signal-stats").textContent = `在办 ${s.signal_stats.open} · 累计 ${s.signal_stats.total} · 转案件 ${s.signal_stats.became_cases}`;
    $("#signals").innerHTML = s.signals.map((x) =>
      `<li><span class="badge" style="background:#FB8C00">${esc(STATUS_ZH[x.status] || x.status)}</span>${esc(x.rule_name || x.rule)}` +
      ` <span class="muted">${esc(x.community || x.grid || "")} ${esc(x.category || "")}</span></li>`).join("") || `<li class="muted">暂无</li>`;
    const items = s.ticker.filter((t) => t.id > lastTickerId);
    if (items.length) {
      const ul = $("#ticker");
      for (const t of items) {
        const li = document.createElement("li");
        li.className = "fresh";
        li.dataset.topic = t.topic;
        const time = new Date(t.at).toLocaleTimeString("zh-CN", { hour12: false });
        li.innerHTML = `<span class="muted">${esc(time)}</span> ` +
          (t.colour ? `<span class="badge" style="background:${esc(t.colour)}">${esc(t.grade_name)}</span>` : "") +
          `${esc(TOPIC_ZH[t.topic] || t.topic)} ${esc(t.case_no || "")} <span class="muted">${esc(t.grid || "")} ${esc(t.category || "")} ${esc(t.department || "")}</span>`;
        ul.insertBefore(li, ul.firstChild);
      }
      while (ul.children.length > 15) ul.removeChild(ul.lastChild);
      lastTickerId = items[items.length - 1].id;
    }
    document.body.dataset.updated = s.generated_at;
  }

  function connect() {
    const es = new EventSource("/screen/stream");
    es.addEventListener("snapshot", (e) => { $("#live").className = "live on"; render(JSON.parse(e.data)); });
    es.onerror = () => { $("#live").className = "live off"; };
  }

  function tick() { $("#clock").textContent = new Date().toLocaleString("zh-CN", { hour12: false }); }
  window.addEventListener("resize", () => Object.values(charts).forEach((c) => c.resize()));
  document.addEventListener("DOMContentLoaded", () => {
    tick(); setInterval(tick, 1000);
    fetch("/screen/labels").then((r) => r.ok ? r.json() : {}).catch(() => ({}))
      .then((labels) => { TOPIC_ZH = Object.fromEntries(Object.entries(labels).map(([t, l]) => [t, l.zh])); })
      .then(() => fetch("/screen/data", { cache: "no-store" }))
      .then((r) => r.ok ? r.json() : null).then((s) => { if (s) render(s); })
      .finally(connect);
  });
})();
