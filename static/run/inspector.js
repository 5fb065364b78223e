/* The run page's optimizer inspector: the learning rate of every param group per epoch (a uPlot
 * chart) and, for a chosen epoch, the optimizer's defaults, each group's hyperparameters and
 * each parameter's state buffers (shape, norm). Reads GET /api/runs/{id}/optimizer and refreshes
 * itself every 3 s while the tab is visible (the epoch picker follows the newest epoch unless the
 * user picked an older one). uPlot is the vendored classic script's global. */

import { $ } from "../shared/dom.js";
import { themed } from "../shared/chart_theme.js";

const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

function fmt(value) {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(4);
  return JSON.stringify(value);
}

const pairs = (obj) => Object.entries(obj || {}).map(([k, v]) => `${k}=${fmt(v)}`).join(", ");

function renderTable(table, entry) {
  table.replaceChildren();
  const summary = entry && entry.optimizer_summary;
  if (!summary) return;
  table.append(el("p", `${summary.optimizer} defaults: ${pairs(summary.defaults)}`, "muted"));
  summary.groups.forEach((group, index) => {
    table.append(el("h3", `Group ${index} (${group.parameter_count} tensors)`), el("p", pairs(group.hyperparameters), "muted"));
    const grid = el("table", undefined, "inspector-state");
    const head = el("tr");
    ["parameter", "shape", "state buffer", "buffer shape", "norm / value"].forEach((t) => head.append(el("th", t)));
    grid.append(head);
    for (const param of group.parameters) {
      const buffers = Object.entries(param.state);
      if (!buffers.length) buffers.push(["(no state yet)", { shape: null, value: "" }]);
      for (const [name, buffer] of buffers) {
        const row = el("tr");
        row.append(el("td", param.name), el("td", JSON.stringify(param.shape)), el("td", name),
          el("td", buffer.shape === null ? "" : JSON.stringify(buffer.shape)),
          el("td", buffer.norm !== undefined ? fmt(buffer.norm) : fmt(buffer.value)));
        grid.append(row);
      }
    }
    // Wide on a phone: the table scrolls inside its own box, not the page.
    const wrap = el("div", undefined, "table-wrap");
    wrap.append(grid);
    table.append(wrap);
  });
}

/** Show and keep refreshing run `runId`'s optimizer history; nothing when the page has no
 * inspector section. */
export function startInspector(runId) {
  const section = $("optimizer-inspector");
  if (!section) return;
  const chartBox = $("lr-groups-chart");
  const select = $("inspector-epoch");
  const table = $("inspector-table");
  let epochs = [];
  let chart = null;

  function drawChart() {
    const withLrs = epochs.filter((e) => Array.isArray(e.lrs));
    if (!withLrs.length || typeof uPlot === "undefined") return;
    const groups = Math.max(...withLrs.map((e) => e.lrs.length));
    // One group's learning rate is the "Learning rate" chart above: draw it once.
    chartBox.hidden = groups < 2;
    if (groups < 2) return;
    const data = [withLrs.map((e) => e.epoch)];
    const series = [{ label: "epoch" }];
    for (let g = 0; g < groups; g += 1) {
      data.push(withLrs.map((e) => (e.lrs[g] === undefined ? null : e.lrs[g])));
      series.push({ label: `group ${g} lr`, stroke: COLORS[g % COLORS.length], width: 2 });
    }
    if (chart && chart.series.length === series.length) {
      chart.setData(data);
      return;
    }
    if (chart) chart.destroy();
    chart = new uPlot(themed({
      width: Math.max(320, chartBox.clientWidth || 600), height: 200,
      scales: { x: { time: false } }, series,
      axes: [{ label: "epoch" }, { label: "learning rate", size: 70 }],
    }), data, chartBox);
  }

  // The picker follows a live run's newest epoch until the user picks an older one.
  let pinned = false;
  function renderSelect() {
    const chosen = select.value;
    select.replaceChildren(...epochs.map((e) => {
      const option = el("option", `epoch ${e.epoch}`);
      option.value = String(e.epoch);
      return option;
    }));
    const keep = pinned && epochs.some((e) => String(e.epoch) === chosen);
    select.value = keep ? chosen : epochs.length ? String(epochs[epochs.length - 1].epoch) : "";
  }

  const showChosen = () => renderTable(table, epochs.find((e) => String(e.epoch) === select.value));

  async function refresh() {
    if (document.hidden) return;
    const response = await fetch(`/api/runs/${runId}/optimizer`);
    if (!response.ok) return;
    const fresh = (await response.json()).epochs;
    const changed = fresh.length !== epochs.length
      || (fresh.length && fresh[fresh.length - 1].epoch !== epochs[epochs.length - 1].epoch);
    if (!changed) return;
    epochs = fresh;
    section.hidden = epochs.length === 0;
    renderSelect();
    drawChart();
    showChosen();
  }

  select.addEventListener("change", () => {
    pinned = select.selectedIndex !== select.options.length - 1;
    showChosen();
  });
  refresh();
  setInterval(refresh, 3000);
}
