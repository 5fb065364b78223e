/* The run page's system charts: the worker's CPU use and resident memory (its DDP ranks and
 * DataLoader workers included), and one chart per GPU of the run with its utilisation, memory
 * and power, over wall-clock time. Rows come from GET /api/runs/{id}/system and the run's
 * `system` Server-Sent Events; a row with `gpu: null` is the processes', one with `gpu: "1"`
 * is GPU 1's. uPlot is the global of the vendored classic script. */

import { $ } from "../shared/dom.js";
import { parseTime } from "../shared/format.js";
import { themed } from "../shared/chart_theme.js";

const HEIGHT = 200;
// Wall-clock seconds on x: at least a minute wide, so the first samples of a run do not stretch
// the axis over years (uPlot pads a zero-width time range generously).
const timeScale = { time: true, range: (u, min, max) => (min === null ? [0, 60] : [min, Math.max(max, min + 60)]) };
const fixed = (digits, unit) => (u, v) => (v === null || v === undefined ? "–" : `${v.toFixed(digits)}${unit}`);

function width(el) {
  return Math.max(320, el.clientWidth || el.parentElement.clientWidth || 800);
}

const processSpec = {
  scales: { x: timeScale, pct: { auto: true, range: (u, min, max) => [0, Math.max(100, max)] }, mb: { auto: true } },
  series: [
    {},
    { label: "CPU", scale: "pct", stroke: "#2563eb", width: 2, value: fixed(0, " %") },
    { label: "memory (RSS)", scale: "mb", stroke: "#f97316", width: 2, value: fixed(0, " MB") },
  ],
  axes: [{}, { scale: "pct", label: "CPU % (100 = 1 core)" }, { scale: "mb", side: 1, label: "MB", grid: { show: false } }],
};

const gpuSpec = {
  scales: { x: timeScale, pct: { auto: false, range: [0, 100] }, mb: { auto: true }, w: { auto: true } },
  series: [
    {},
    { label: "utilisation", scale: "pct", stroke: "#16a34a", width: 2, value: fixed(0, " %") },
    { label: "memory used", scale: "mb", stroke: "#7c3aed", width: 2, value: fixed(0, " MB") },
    { label: "power", scale: "w", stroke: "#dc2626", width: 1.5, dash: [6, 4], value: fixed(0, " W") },
  ],
  axes: [{}, { scale: "pct", label: "utilisation %" }, { scale: "mb", side: 1, label: "memory MB", grid: { show: false } }],
};

// A chart in a new box under `parent`: {data, plot, add(values)}.
function makeChart(parent, title, spec, columns) {
  const box = document.createElement("div");
  box.className = "system-chart";
  const heading = document.createElement("h3");
  heading.textContent = title;
  const el = document.createElement("div");
  el.className = "chart chart-small";
  box.append(heading, el);
  parent.append(box);
  const data = Array.from({ length: columns }, () => []);
  const plot = new uPlot(themed({ width: width(el), height: HEIGHT, ...spec }), data, el);
  if (window.ResizeObserver) {
    new ResizeObserver(() => plot.setSize({ width: width(el), height: HEIGHT })).observe(el);
  }
  return {
    box,
    data,
    plot,
    add(values) {
      values.forEach((v, i) => data[i].push(v));
    },
  };
}

/** The system charts in #system-charts; {addRows(rows), lastId(), points(), gpuCharts()}. */
export function createSystemCharts() {
  const root = $("system-charts");
  const empty = $("system-empty");
  let processes = null;
  const gpus = new Map();  // NVML index -> chart
  let lastId = 0;

  function chartFor(gpu) {
    if (gpu === null) {
      processes ??= makeChart(root, "Processes: CPU and memory", processSpec, 3);
      return processes;
    }
    if (!gpus.has(gpu)) gpus.set(gpu, makeChart(root, `GPU ${gpu}`, gpuSpec, 4));
    return gpus.get(gpu);
  }

  function addRows(rows) {
    const touched = new Set();
    for (const row of rows) {
      if (row.id <= lastId) continue;  // a row seen already (the fetch and the stream overlap)
      lastId = row.id;
      // A zone-aware time may come as "+00:00Z" (PostgreSQL): one zone is enough.
      const at = parseTime(String(row.time).replace(/([+-]\d\d:?\d\d)Z$/, "$1"));
      if (!at) continue;
      const t = at.getTime() / 1000;
      const chart = chartFor(row.gpu);
      if (row.gpu === null) chart.add([t, row.cpu_percent, row.rss_mb]);
      else chart.add([t, row.gpu_utilization_percent, row.gpu_memory_used_mb, row.gpu_power_watts]);
      touched.add(chart);
    }
    touched.forEach((chart) => chart.plot.setData(chart.data));
    if (lastId) empty.hidden = true;
  }

  return {
    addRows,
    lastId: () => lastId,
    points: () => (processes ? processes.data[0].length : 0),
    gpuCharts: () => gpus.size,
  };
}
