/* The sweep editor under the form: one row per config field to vary — its dotted path (offered
 * from the form's own fields) and the values to try — turned into the grid that
 * POST /api/sweeps expands into one run per combination. */

import { h } from "../shared/dom.js";

/** "0.01, 0.001" → [0.01, 0.001]: numbers and true/false become JSON values, anything else
 * stays a string. */
export function parseValues(text) {
  return text.split(",").map((v) => v.trim()).filter(Boolean).map((v) => {
    if (v === "true" || v === "false") return v === "true";
    return Number.isFinite(Number(v)) ? Number(v) : v;
  });
}

/** Rows [{path, values}] → {"optimizer.lr": [0.01, 0.001]}; throws on a half-filled row. */
export function sweepGrid(rows) {
  const grid = {};
  for (const { path, values } of rows) {
    if (!path.trim() && !values.trim()) continue;
    if (!path.trim() || !parseValues(values).length) throw new Error(`sweep row "${path.trim() || values.trim()}": give a field and at least one value`);
    grid[path.trim()] = parseValues(values);
  }
  return grid;
}

/** The editor in `list` with its `addButton`; `paths()` lists the fields one can sweep. */
export function createSweepEditor(list, addButton, datalist, paths) {
  function addRow(path, values) {
    const pathInput = h("input", { type: "text", class: "sweep-path", list: datalist.id, placeholder: "optimizer.lr", "aria-label": "Field to sweep", autocomplete: "off", spellcheck: "false" });
    const valuesInput = h("input", { type: "text", class: "sweep-values", placeholder: "0.01, 0.001", "aria-label": "Values to try, comma-separated", autocomplete: "off" });
    pathInput.value = path || "";
    valuesInput.value = values || "";
    const remove = h("button", { type: "button", class: "button secondary small row-button", text: "✕", "aria-label": "Remove this sweep row", title: "Remove" });
    const row = h("li", { class: "sweep-row" }, pathInput, " = ", valuesInput, remove);
    remove.addEventListener("click", () => row.remove());
    pathInput.addEventListener("focus", () => {
      datalist.replaceChildren(...paths().map((p) => h("option", { value: p })));
    });
    list.append(row);
    return row;
  }

  addButton.addEventListener("click", () => addRow().querySelector(".sweep-path").focus());
  return {
    addRow,
    grid: () => sweepGrid([...list.querySelectorAll(".sweep-row")].map((row) => ({
      path: row.querySelector(".sweep-path").value,
      values: row.querySelector(".sweep-values").value,
    }))),
    clear: () => list.replaceChildren(),
  };
}
