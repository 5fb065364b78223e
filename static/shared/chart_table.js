/* A chart's text alternative: under every uPlot chart a "Data table" disclosure that lists the
 * plotted values (one row per x, one column per series), built when opened, so a screen reader
 * or a keyboard user reads what the canvas shows. Long series show their last rows. */

import { h } from "./dom.js";

const MAX_ROWS = 500;

function cell(value, isTime) {
  if (value === null || value === undefined || Number.isNaN(value)) return "–";
  if (isTime) return new Date(value * 1000).toLocaleTimeString();
  return Number.isInteger(value) ? String(value) : Number(value).toPrecision(5);
}

function buildTable(u) {
  const columns = u.series.map((s, i) => ({ label: String(s.label || (i === 0 ? "x" : `series ${i}`)), data: u.data[i] || [] }));
  const isTime = Boolean(u.scales.x && u.scales.x.time);
  const total = columns[0].data.length;
  const start = Math.max(0, total - MAX_ROWS);
  const rows = [];
  for (let r = start; r < total; r += 1) {
    rows.push(h("tr", {}, columns.map((c, i) => h(i === 0 ? "th" : "td", i === 0 ? { scope: "row" } : { class: "num" }, cell(c.data[r], i === 0 && isTime)))));
  }
  const note = start ? h("p", { class: "muted", text: `The last ${MAX_ROWS} of ${total} rows.` }) : null;
  return [note, h("div", { class: "table-wrap" }, h("table", { class: "data-table compact" },
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", text: c.label })))),
    h("tbody", {}, total ? rows : h("tr", {}, h("td", { colspan: columns.length, text: "No values yet." })))))];
}

/** Put the data disclosure under chart `u`; returns a function that removes it. */
export function attachDataTable(u) {
  const body = h("div", {});
  const details = h("details", { class: "chart-data" }, h("summary", { text: "Data table" }), body);
  const refresh = () => { if (details.open) body.replaceChildren(...buildTable(u)); };
  details.addEventListener("toggle", refresh);
  u.root.after(details);
  return { refresh, remove: () => details.remove() };
}
