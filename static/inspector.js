/* torchdash: the optimizer inspector on the run page — the learning rate of every param group
 * per epoch (a uPlot chart) and, for a chosen epoch, the optimizer's defaults, each group's
 * hyperparameters and each parameter's state buffers (shape, norm). Reads
 * GET /api/runs/{id}/optimizer; refreshes itself while the page is open (every 3 s, only when
 * the tab is visible), so it needs no hook in run.js.
 */
(function () {
  "use strict";

  const page = document.getElementById("run-page");
  const section = document.getElementById("optimizer-inspector");
  if (!page || !section) return;
  const runId = Number(page.dataset.runId);
  const chartBox = document.getElementById("lr-groups-chart");
  const select = document.getElementById("inspector-epoch");
  const table = document.getElementById("inspector-table");
  const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2"];
  let epochs = [];
  let chart = null;

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

  function drawChart() {
    const withLrs = epochs.filter((e) => Array.isArray(e.lrs));
    if (!withLrs.length || typeof uPlot === "undefined") return;
    const groups = Math.max(...withLrs.map((e) => e.lrs.length));
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
    chart = new uPlot({
      width: Math.max(320, chartBox.clientWidth || 600), height: 200,
      scales: { x: { time: false } }, series,
      axes: [{ label: "epoch" }, { label: "learning rate", size: 70 }],
    }, data, chartBox);
  }

  function renderTable(entry) {
    table.replaceChildren();
    const summary = entry && entry.optimizer_summary;
    if (!summary) return;
    const defaults = Object.entries(summary.defaults || {}).map(([k, v]) => `${k}=${fmt(v)}`).join(", ");
    table.append(el("p", `${summary.optimizer} defaults: ${defaults}`, "muted"));
    summary.groups.forEach((group, index) => {
      const hyper = Object.entries(group.hyperparameters).map(([k, v]) => `${k}=${fmt(v)}`).join(", ");
      table.append(el("h3", `Group ${index} (${group.parameter_count} tensors)`), el("p", hyper, "muted"));
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
      table.append(grid);
    });
  }

  function renderSelect() {
    const chosen = select.value;
    select.replaceChildren(...epochs.map((e) => {
      const option = el("option", `epoch ${e.epoch}`);
      option.value = String(e.epoch);
      return option;
    }));
    const keep = epochs.some((e) => String(e.epoch) === chosen);
    select.value = keep ? chosen : epochs.length ? String(epochs[epochs.length - 1].epoch) : "";
  }

  function showChosen() {
    renderTable(epochs.find((e) => String(e.epoch) === select.value));
  }

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

  select.addEventListener("change", showChosen);
  refresh();
  setInterval(refresh, 3000);
})();
