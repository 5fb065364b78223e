/* The study page's trials table: one row per trial with its state, the epoch a pruned trial
 * stopped at, its parameters, its objective (with ± std over its seeds when a trial trains
 * several), the epochs it reported and links to its runs. A click on a column header sorts by
 * it (again: the other way); the sort stays while the table is redrawn live. */

import { $, h } from "../shared/dom.js";
import { fmtMeanStd } from "../shared/seed_groups.js";
import { fmtParam, fmtValue } from "./format.js";

let sortKey = "number";
let sortDir = 1;

// The columns: [key, header, value of a trial (what it sorts by)].
function columns(study, spread) {
  const params = study.space.map((entry) => [`param:${entry.field}`, entry.field, (t) => t.params[entry.field]]);
  return [
    ["number", "trial", (t) => t.number],
    ["state", "state", (t) => t.state],
    ["pruned_epoch", "pruned at epoch", (t) => t.pruned_epoch],
    ...params,
    ["value", study.seeds > 1 ? `${study.objective} (mean ± std)` : study.objective, (t) => t.value ?? lastValue(t)],
    ["epochs", "epochs", (t) => t.intermediate_values.length],
    ["runs", "runs", (t) => t.run_ids[0]],
  ].map(([key, title, value]) => ({ key, title, value, spread }));
}

// The newest intermediate value of a trial without a final one (running or pruned).
const lastValue = (t) => {
  const values = t.intermediate_values.filter((v) => v.value !== null);
  return values.length ? values[values.length - 1].value : null;
};

function compare(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;  // missing values last, either way
  if (b === null || b === undefined) return -1;
  return (typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b))) * sortDir;
}

function cell(study, column, trial) {
  if (column.key === "number") return h("td", { class: "num" }, h("a", { href: `/runs/${trial.run_ids[0]}`, text: `#${trial.number}` }));
  if (column.key === "state") return h("td", {}, h("span", { class: `badge trial-${trial.state}`, text: trial.state, title: trial.stop_reason || "" }));
  if (column.key === "runs") {
    return h("td", {}, trial.run_ids.flatMap((id, i) => [i ? ", " : "", h("a", { href: `/runs/${id}`, text: `#${id}` })]));
  }
  if (column.key === "value") {
    const spread = column.spread(trial);
    if (trial.value !== null && spread) return h("td", { class: "num objective" }, fmtMeanStd(spread, (v) => fmtValue(study, v)));
    const running = trial.value === null && lastValue(trial) !== null;
    return h("td", { class: `num objective${running ? " muted" : ""}`, title: running ? "the newest epoch's value, not final" : null,
      text: fmtValue(study, trial.value ?? lastValue(trial)) });
  }
  const value = column.value(trial);
  return h("td", { class: typeof value === "number" ? "num" : null, text: column.key.startsWith("param:") ? fmtParam(value) : (value ?? "–") });
}

/** Draw the trials of `study`; `spread(trial)` is {mean, std, n} over its seeds, or null. */
export function renderTrials(study, spread) {
  const cols = columns(study, spread);
  const byKey = Object.fromEntries(cols.map((c) => [c.key, c]));
  if (!byKey[sortKey]) sortKey = "number";
  const trials = [...study.trials].sort((a, b) => compare(byKey[sortKey].value(a), byKey[sortKey].value(b)));
  const header = h("tr", {}, cols.map((c) => {
    const sorted = c.key === sortKey;
    const th = h("th", { "aria-sort": sorted ? (sortDir > 0 ? "ascending" : "descending") : "none", "data-key": c.key },
      h("button", { type: "button", class: "sort-button", text: `${c.title}${sorted ? (sortDir > 0 ? " ▲" : " ▼") : ""}` }));
    th.querySelector("button").addEventListener("click", () => {
      sortDir = sorted ? -sortDir : 1;
      sortKey = c.key;
      renderTrials(study, spread);
    });
    return th;
  }));
  const rows = trials.map((t) => h("tr", { "data-trial": t.number, "data-state": t.state }, cols.map((c) => cell(study, c, t))));
  $("trials-table").replaceChildren(h("thead", {}, header), h("tbody", {}, rows));
}
