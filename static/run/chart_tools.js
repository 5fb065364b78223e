/* The controls above the run page's charts: the log-scale toggle, PNG download (the canvas on
 * white; a group of panels stacked), CSV download (the chart's own columns) and the step chart's
 * smoothing slider. */

import { $, h } from "../shared/dom.js";

function download(name, url) {
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

function savePng(chart, name) {
  const sources = chart.canvases ? chart.canvases() : [chart.plot.ctx.canvas];
  const width = Math.max(1, ...sources.map((s) => s.width));
  const height = Math.max(1, sources.reduce((sum, s) => sum + s.height, 0));
  const canvas = h("canvas", { width, height });
  const ctx = canvas.getContext("2d");
  // The page's card colour behind the canvas: the axes are drawn in the theme's text colour.
  ctx.fillStyle = getComputedStyle(document.documentElement).getPropertyValue("--card").trim() || "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  let top = 0;
  for (const source of sources) {
    ctx.drawImage(source, 0, top);
    top += source.height;
  }
  download(name, canvas.toDataURL("image/png"));
}

function saveCsv(chart, name) {
  const names = chart.labels ? chart.labels() : chart.plot.series.map((s) => s.label);
  const rows = [names.join(",")];
  const data = chart.series.data;
  for (let i = 0; i < data[0].length; i += 1) rows.push(data.map((col) => (col[i] ?? "")).join(","));
  const blob = new Blob([rows.join("\n") + "\n"], { type: "text/csv" });
  download(name, URL.createObjectURL(blob));
}

/** Wire every `.chart-tools` box to the chart its `data-chart` names, and the slider. */
export function wireChartTools(runId, charts, setSmoothing) {
  document.querySelectorAll(".chart-tools").forEach((tools) => {
    const chart = charts[tools.dataset.chart];
    const name = `run${runId}-${tools.dataset.chart}`;
    tools.querySelector(".log-toggle").addEventListener("change", (e) => { chart.log = e.target.checked; chart.build(); });
    tools.querySelector(".png-button").addEventListener("click", () => savePng(chart, `${name}.png`));
    tools.querySelector(".csv-button").addEventListener("click", () => saveCsv(chart, `${name}.csv`));
  });

  $("smoothing").addEventListener("input", (e) => {
    const weight = Number(e.target.value);
    $("smoothing-value").textContent = weight.toFixed(2);
    setSmoothing(weight);
  });
}
