/* The sweep editor under the form: one row per config field to vary — its dotted path (offered
 * from the form's own fields) and the values to try — turned into the grid that
 * POST /api/sweeps expands into one run per combination. Values are comma-separated, or one per
 * line; a list field (hidden_sizes) takes one list per line, "64, 64" being one value. */

import { h } from "../shared/dom.js";

function scalar(v) {
  if (v === "true" || v === "false") return v === "true";
  return Number.isFinite(Number(v)) ? Number(v) : v;
}

const items = (text, separator) => text.split(separator).map((v) => v.trim()).filter(Boolean);

/** "0.01, 0.001" → [0.01, 0.001]: numbers and true/false become JSON values, anything else
 * stays a string. Several lines: one value a line. For a list field (`list`) each line is one
 * list: "64, 64" → [64, 64], a JSON list as typed. */
export function parseValues(text, list = false) {
  const multiline = text.includes("\n");
  if (!list) return items(text, multiline ? "\n" : ",").map(scalar);
  return items(text, "\n").map((line) => {
    if (line.startsWith("[")) {
      try { return JSON.parse(line); } catch (err) { /* not JSON: read it as the items below */ }
    }
    return items(line.replace(/^\[|\]$/g, ""), /[,\s]+/).map(scalar);
  });
}

/** How many runs `grid` queues: the product of its value counts (0 for an empty grid). */
export const gridSize = (grid) => (Object.keys(grid).length ? Object.values(grid).reduce((n, values) => n * values.length, 1) : 0);

/** Rows [{path, values}] → {"optimizer.lr": [0.01, 0.001]}; throws on a half-filled row.
 * `isList(path)` says whether the field holds a list. */
export function sweepGrid(rows, isList = () => false) {
  const grid = {};
  for (const { path, values } of rows) {
    if (!path.trim() && !values.trim()) continue;
    const parsed = parseValues(values, isList(path.trim()));
    if (!path.trim() || !parsed.length) throw new Error(`sweep row "${path.trim() || values.trim()}": give a field and at least one value`);
    grid[path.trim()] = parsed;
  }
  return grid;
}

/** The editor in `list` with its `addButton`; `paths()` lists the fields one can sweep and
 * `isList(path)` whether one holds a list. */
export function createSweepEditor(list, addButton, datalist, paths, isList = () => false) {
  function addRow(path, values) {
    const pathInput = h("input", { type: "text", class: "sweep-path", list: datalist.id, placeholder: "optimizer.lr", "aria-label": "Field to sweep", autocomplete: "off", spellcheck: "false" });
    // A text area: a list field's values go one per line.
    const valuesInput = h("textarea", { class: "sweep-values", rows: 1, placeholder: "0.01, 0.001", "aria-label": "Values to try: comma-separated, or one per line", spellcheck: "false" });
    pathInput.value = path || "";
    valuesInput.value = values || "";
    const remove = h("button", { type: "button", class: "button secondary small row-button", text: "✕", "aria-label": "Remove this sweep row", title: "Remove" });
    const row = h("li", { class: "sweep-row" }, pathInput, " = ", valuesInput, remove);
    remove.addEventListener("click", () => { row.remove(); list.dispatchEvent(new Event("input", { bubbles: true })); });
    const hint = () => {
      const listField = isList(pathInput.value.trim());
      valuesInput.placeholder = listField ? "64, 64\n128" : "0.01, 0.001";
      valuesInput.rows = listField ? 3 : 1;
    };
    pathInput.addEventListener("change", hint);
    hint();
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
    })), isList),
    clear: () => { list.replaceChildren(); list.dispatchEvent(new Event("input", { bubbles: true })); },
    onChange: (listener) => { list.addEventListener("input", listener); list.addEventListener("change", listener); },
  };
}
