/* The sweep's Search mode: one row per field to search — its dotted path, a type (float, on a
 * uniform or log scale; int; a choice among values) and its range or choices — plus the study's
 * objective (a metric name of the form's task) and direction, the number of trials, how many
 * run at once (empty: as many as the server has free slots), the sampler and the pruner. It
 * makes the body of POST /api/studies and shows that route's 422 errors at their controls. */

import { $, h } from "../shared/dom.js";
import { metricNames } from "./metric_choice.js";
import { parseValues } from "./sweep.js";

const OPTIONS = ["objective", "direction", "n_trials", "parallelism", "sampler", "pruner"];

function errorSlot() {
  return h("span", { class: "field-error", role: "alert" });
}

/** The editor: rows in `list`, added by `addButton`; `paths()` lists the fields one may search,
 * `current()` is the form's config (its task and metric rows give the objective's choices),
 * `taskMetrics` the schema's metric names per task. */
export function createSearchEditor({ list, addButton, datalist, paths, current, taskMetrics }) {
  const objective = $("search-objective");

  function fillObjectives() {
    const names = metricNames(current(), taskMetrics).filter((n) => !n.startsWith("train_") || n === "train_loss");
    const chosen = objective.value || "val_loss";
    objective.replaceChildren(...names.map((n) => h("option", { value: n, text: n })));
    objective.value = names.includes(chosen) ? chosen : names.includes("val_loss") ? "val_loss" : names[0];
  }

  function addRow(entry) {
    const e = entry || {};
    const field = h("input", { type: "text", class: "search-field", list: datalist.id, placeholder: "optimizer.lr", "aria-label": "Field to search", autocomplete: "off", spellcheck: "false" });
    field.value = e.field || "";
    const type = h("select", { class: "search-type", "aria-label": "How to search it" },
      h("option", { value: "float", text: "float" }), h("option", { value: "log", text: "float, log scale" }),
      h("option", { value: "int", text: "int" }), h("option", { value: "choice", text: "choice" }));
    type.value = e.type === "float" && e.log ? "log" : e.type || "float";
    const low = h("input", { type: "number", class: "search-low", step: "any", placeholder: "low", "aria-label": "Lowest value" });
    const high = h("input", { type: "number", class: "search-high", step: "any", placeholder: "high", "aria-label": "Highest value" });
    const choices = h("input", { type: "text", class: "search-choices", placeholder: "adam, sgd", "aria-label": "Values to choose from, comma-separated", autocomplete: "off" });
    if (e.low !== undefined && e.low !== null) low.value = String(e.low);
    if (e.high !== undefined && e.high !== null) high.value = String(e.high);
    if (e.choices) choices.value = e.choices.join(", ");
    const remove = h("button", { type: "button", class: "button secondary small row-button", text: "✕", "aria-label": "Remove this search row", title: "Remove" });
    const row = h("li", { class: "search-row" }, field, type, low, "–", high, choices, remove, errorSlot());
    const showType = () => {
      const isChoice = type.value === "choice";
      low.hidden = high.hidden = isChoice;
      row.childNodes[3].textContent = isChoice ? "" : "–";
      choices.hidden = !isChoice;
    };
    type.addEventListener("change", showType);
    showType();
    remove.addEventListener("click", () => row.remove());
    field.addEventListener("focus", () => { datalist.replaceChildren(...paths().map((p) => h("option", { value: p }))); });
    list.append(row);
    return row;
  }

  // A row's SpaceEntry; empty rows are skipped. Numbers the browser cannot read are sent as
  // they are typed, so the server's 422 names them.
  function entryOf(row) {
    const q = (cls) => row.querySelector(cls);
    const field = q(".search-field").value.trim();
    const kind = q(".search-type").value;
    if (!field) return null;
    if (kind === "choice") return { field, type: "choice", choices: parseValues(q(".search-choices").value) };
    const number = (input) => (input.value.trim() === "" ? null : Number(input.value));
    return { field, type: kind === "log" ? "float" : kind, low: number(q(".search-low")), high: number(q(".search-high")), log: kind === "log" };
  }

  function clearErrors() {
    for (const el of document.querySelectorAll("#search-mode .field-error")) el.textContent = "";
    for (const el of document.querySelectorAll("#search-mode .has-error")) el.classList.remove("has-error");
  }

  function mark(control, slot, message) {
    if (control) control.classList.add("has-error");
    slot.textContent = slot.textContent ? `${slot.textContent}; ${message}` : message;
  }

  /** Show the 422 items that name the search's own fields; returns the others. */
  function showErrors(detail) {
    if (!Array.isArray(detail)) return detail;
    const rows = [...list.querySelectorAll(".search-row")].filter((row) => entryOf(row));
    return detail.filter((item) => {
      const loc = Array.isArray(item.loc) ? item.loc : [];
      if (loc[0] !== "body") return true;
      // The row's index may come as a number or as its text.
      const index = loc[1] === "space" && /^\d+$/.test(String(loc[2])) ? Number(loc[2]) : -1;
      if (index >= 0 && rows[index]) {
        const row = rows[index];
        const control = { field: ".search-field", type: ".search-type", low: ".search-low", high: ".search-high", log: ".search-type", choices: ".search-choices" }[loc[3]];
        mark(control ? row.querySelector(control) : null, row.querySelector(".field-error"), loc[3] && !control ? `${loc[3]}: ${item.msg}` : item.msg);
        return false;
      }
      if (loc[1] === "space") {
        mark(null, $("search-space-error"), item.msg);
        return false;
      }
      const name = loc[1] === "seeds" ? "seeds" : OPTIONS.includes(loc[1]) ? loc[1] : null;
      if (!name) return true;
      const control = name === "seeds" ? $("sweep-seeds") : $(`search-${name.replace("n_", "")}`);
      mark(control, control.parentElement.querySelector(".field-error"), item.msg);
      return false;
    });
  }

  addButton.addEventListener("click", () => addRow().querySelector(".search-field").focus());
  objective.addEventListener("focus", fillObjectives);
  document.addEventListener("change", (event) => { if (event.target !== objective) fillObjectives(); });
  fillObjectives();

  return {
    addRow,
    clearErrors,
    showErrors,
    /** The POST /api/studies body for the form's `config`, with `seeds` per trial. */
    body(config, seeds) {
      const space = [...list.querySelectorAll(".search-row")].map(entryOf).filter(Boolean);
      if (!space.length) throw new Error("search: give at least one field to search");
      const parallelism = $("search-parallelism").value.trim();
      const direction = $("search-direction").value;
      return {
        config,
        space,
        objective: objective.value,
        ...(direction ? { direction } : {}),
        n_trials: Number($("search-trials").value),
        parallelism: parallelism === "" ? null : Number(parallelism),
        sampler: $("search-sampler").value,
        pruner: $("search-pruner").value,
        seeds,
      };
    },
  };
}
