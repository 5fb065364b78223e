/* Entry of the home page's "New run" form: builds the form from the schema and default config
 * embedded in the page, prefills it from another run or a template when asked, and wires the
 * reset button, change highlighting, the sweep (grid rows, or a search's rows and options, and
 * the seeds per run), the JSON view, "Check" and submit.
 * Exposes the form as `window.torchdashForm`. Custom widgets (widget_registry.js) register by
 * being imported here, before the form is built. */

import { $ } from "../shared/dom.js";
import { flatten } from "../shared/config_paths.js";
import { makeResolver } from "./schema.js";
import { createRunForm } from "./builder.js";
import { locToPath } from "./errors.js";
import { createSweepEditor, sweepGrid } from "./sweep.js";
import { createSearchEditor } from "./search.js";
import { attachSweep, isScriptMode, searchPaths } from "./script_mode.js";
import { loadSource, showChanges } from "./prefill.js";
import { wireSubmit } from "./submit.js";
import { wireTemplates } from "./templates_menu.js";
import { wireJsonView } from "./json_view.js";
import { wireCheck } from "./check.js";
import { registerWidget } from "./widget_registry.js";
import "./device_choice.js"; // registers the device widget
import "./metric_choice.js"; // registers the metric-name widget
import "./columns_choice.js"; // registers the table-columns widget

function readJson(id) {
  const el = $(id);
  return el ? JSON.parse(el.textContent) : null;
}

function init() {
  const formEl = $("run-form");
  if (!formEl) return;
  const fields = $("form-fields");
  const errorBox = $("form-error");
  const start = $("start-button");
  const sourceNote = $("form-source");
  const defaults = readJson("default-run-config") || {};
  let form;
  try {
    form = createRunForm(fields, readJson("run-config-schema"), defaults, errorBox);
  } catch (err) {
    errorBox.textContent = "Could not build the form: " + err.message;
    errorBox.hidden = false;
    start.disabled = true;
    return;
  }
  window.torchdashForm = form;
  let source = null;
  let template = null;  // the template last applied: reset goes back to it

  const changes = () => { if (source) showChanges(fields, sourceNote, form, source); };
  fields.addEventListener("input", changes);
  fields.addEventListener("change", changes);
  loadSource(form).then((loaded) => { source = loaded; changes(); })
    .catch((err) => form.showGeneral(err.message));

  $("reset-button").addEventListener("click", () => {
    if (source) { form.load(source.run.config); form.clearErrors(); changes(); } else if (template) form.load(template.config); else form.reset();
  });

  const json = wireJsonView({ details: $("json-details"), area: $("config-json"), apply: $("json-apply"), error: $("json-error") }, form);
  fields.addEventListener("change", json.refresh);
  wireTemplates($("template-select"), $("template-note"), readJson("form-templates") || [], (picked) => {
    template = picked;
    form.load(picked ? picked.config : defaults);
    json.refresh();
  });

  // In Script mode the sweep varies the script's arguments (script_mode.js).
  const paths = () => (isScriptMode() ? searchPaths() : Object.keys(flatten(form.collect())));
  const isList = (path) => (flatten(form.collect())[path] || "").startsWith("[");
  const sweep = createSweepEditor($("sweep-rows"), $("sweep-add"), $("sweep-paths"), paths, isList);
  const schema = readJson("run-config-schema") || {};
  const search = createSearchEditor({ list: $("search-rows"), addButton: $("search-add"), datalist: $("sweep-paths"), paths, current: () => (isScriptMode() ? {} : form.collect()), taskMetrics: (schema.ui || {}).task_metrics });
  sweep.mode = () => (document.querySelector('input[name="sweep-mode"]:checked') || {}).value || "grid";
  sweep.seeds = () => Number($("sweep-seeds").value || 1);
  sweep.search = search;
  attachSweep(sweep);
  for (const radio of document.querySelectorAll('input[name="sweep-mode"]')) {
    radio.addEventListener("change", () => {
      const searching = sweep.mode() === "search";
      $("grid-mode").hidden = searching;
      $("search-mode").hidden = !searching;
      $("seeds-label").textContent = searching ? "Seeds per trial" : "Repeat with k seeds";
      start.textContent = searching ? "Start study" : "Start";
    });
  }
  if (new URLSearchParams(location.search).get("mode") === "search") {
    // "New study" elsewhere links here: the sweep opens in its Search mode.
    $("sweep-details").open = true;
    const radio = document.querySelector('input[name="sweep-mode"][value="search"]');
    radio.checked = true;
    radio.dispatchEvent(new Event("change"));
    if (!$("search-rows").children.length) search.addRow();
  }
  const check = wireCheck($("check-button"), $("check-result"), form);
  wireSubmit({ formEl, form, start, sweep, getSource: () => source, estimate: check.estimateFor });
}

window.TorchdashForm = { createRunForm, locToPath, makeResolver, flatten, sweepGrid, registerWidget };
init();
