/* Entry of the home page's "New run" form: builds the form from the schema and default config
 * embedded in the page, prefills it from another run when the URL asks, and wires the reset
 * button, change highlighting and submit. Exposes the form as `window.torchdashForm`. */

import { $ } from "../shared/dom.js";
import { flatten } from "../shared/config_paths.js";
import { makeResolver } from "./schema.js";
import { createRunForm } from "./builder.js";
import { locToPath } from "./errors.js";
import { parseSweep } from "./sweep.js";
import { loadSource, showChanges } from "./prefill.js";
import { wireSubmit } from "./submit.js";

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
  let form;
  try {
    form = createRunForm(fields, readJson("run-config-schema"), readJson("default-run-config") || {}, errorBox);
  } catch (err) {
    errorBox.textContent = "Could not build the form: " + err.message;
    errorBox.hidden = false;
    start.disabled = true;
    return;
  }
  window.torchdashForm = form;
  let source = null;

  const changes = () => { if (source) showChanges(fields, sourceNote, form, source); };
  fields.addEventListener("input", changes);
  fields.addEventListener("change", changes);
  loadSource(form).then((loaded) => { source = loaded; changes(); })
    .catch((err) => form.showGeneral(err.message));

  $("reset-button").addEventListener("click", () => {
    if (source) { form.load(source.run.config); form.clearErrors(); changes(); } else form.reset();
  });

  wireSubmit({ formEl, form, start, sweepBox: $("sweep-grid"), getSource: () => source });
}

window.TorchdashForm = { createRunForm, locToPath, makeResolver, flatten, parseSweep };
init();
