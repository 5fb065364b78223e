/* The run page's evaluation of the best epoch, made by the worker when the run ends, per task:
 * classification — the confusion matrix (left out above 40 classes), per-class accuracy and the
 * misclassified validation samples (PNG thumbnails the server renders with Pillow for images,
 * the texts for text data, the first input values otherwise); multilabel — per-label scores; regression — per-target
 * errors and plots (evaluation_tasks.js). */

import { $, h, setText } from "../shared/dom.js";
import { fmtPct } from "../shared/format.js";
import { renderLabelScores, renderRegression } from "./evaluation_tasks.js";

const MAX_MATRIX_CLASSES = 40;
const SHOWN_VALUES = 12;  // of a sample that is not an image, in the table's cell

function renderMatrix(names, matrix) {
  const max = Math.max(1, ...matrix.flat());
  $("confusion-matrix").replaceChildren(
    h("tr", {}, h("th", {}), names.map((n) => h("th", { text: n }))),
    ...matrix.map((row, i) => h("tr", {}, h("th", { text: names[i] }), row.map((count, j) => {
      // At most 60 % strength: the count stays readable in the page's own text colour, in the
      // light and the dark theme alike.
      const alpha = (0.6 * count) / max;
      const color = i === j ? `rgba(21, 128, 61, ${alpha.toFixed(3)})` : `rgba(185, 28, 28, ${alpha.toFixed(3)})`;
      return h("td", { style: `background:${color}`, title: `true ${names[i]}, predicted ${names[j]}: ${count}`, text: String(count) });
    }))),
  );
}

function renderValues(names, samples) {
  $("misclassified-values").hidden = !samples.length;
  $("misclassified-values").replaceChildren(
    h("tr", {}, h("th", { class: "num", text: "sample" }), h("th", { text: "predicted" }), h("th", { text: "true" }), h("th", { text: "input values" })),
    ...samples.map((m) => {
      const values = m.values.slice(0, SHOWN_VALUES).map((v) => (v === null ? "–" : String(v))).join(", ");
      return h("tr", {},
        h("td", { class: "num", text: String(m.index) }), h("td", { class: "pred", text: names[m.predicted] }), h("td", { text: names[m.true] }),
        h("td", { class: "values", title: m.values.join(", "), text: m.values.length > SHOWN_VALUES ? `${values}, …` : values }));
    }),
  );
}

// Texts, whole in the cell (the worker keeps their first 500 characters).
function renderTexts(names, samples) {
  $("misclassified-texts").hidden = !samples.length;
  $("misclassified-texts").replaceChildren(
    h("tr", {}, h("th", { class: "num", text: "sample" }), h("th", { text: "predicted" }), h("th", { text: "true" }), h("th", { text: "text" })),
    ...samples.map((m) => h("tr", { dataset: { sample: String(m.index) } },
      h("td", { class: "num", text: String(m.index) }), h("td", { class: "pred", text: names[m.predicted] }), h("td", { text: names[m.true] }),
      h("td", { class: "text", text: m.text }))),
  );
}

function renderClassification(evaluation) {
  const names = evaluation.class_names;
  const matrix = evaluation.confusion;
  const tooMany = names.length > MAX_MATRIX_CLASSES;  // a 1000 x 1000 table helps nobody
  $("confusion-matrix").hidden = tooMany;
  if (tooMany) setText("evaluation-note", `Epoch ${evaluation.epoch}, on the validation split (${names.length} classes: the confusion matrix is left out; GET /api/runs/{id}/evaluation has it).`);
  else renderMatrix(names, matrix);
  $("per-class").replaceChildren(
    h("tr", {}, h("th", { text: "class" }), h("th", { class: "num", text: "accuracy" }), h("th", { class: "num", text: "count" })),
    ...evaluation.per_class_accuracy.map((acc, i) => h("tr", {},
      h("td", { text: names[i] }), h("td", { class: "num", text: fmtPct(acc) }), h("td", { class: "num", text: String(matrix[i].reduce((a, b) => a + b, 0)) }))),
  );
  $("evaluation").hidden = false;
  const images = evaluation.misclassified.filter((m) => m.thumbnail_url);
  const others = evaluation.misclassified.filter((m) => !m.thumbnail_url && m.values);
  const texts = evaluation.misclassified.filter((m) => typeof m.text === "string");
  $("misclassified-wrap").hidden = !images.length && !others.length && !texts.length;
  $("misclassified").replaceChildren(...images.map((m) => h("figure", { class: "thumb" },
    h("img", { src: m.thumbnail_url, alt: `predicted ${names[m.predicted]}, true ${names[m.true]}` }),
    h("figcaption", {}, h("span", { class: "pred", text: names[m.predicted] }), " / ", h("span", { class: "true", text: names[m.true] })))));
  renderValues(names, others);
  renderTexts(names, texts);
}

const NOTES = {
  classification: "",
  multilabel: " A label is predicted where the model's output says yes (probability above 0.5).",
  regression: " Residual: true − predicted.",
};

function render(evaluation) {
  const task = evaluation.task || "classification";
  setText("evaluation-note", `Epoch ${evaluation.epoch}, on the validation split.${NOTES[task] ?? ""}`);
  $("evaluation-section").dataset.task = task;
  if (task === "multilabel") renderLabelScores(evaluation);
  else if (task === "regression") renderRegression(evaluation);
  else renderClassification(evaluation);
}

// Fetch and draw; a 404 (the run has not ended yet) leaves the note as it is.
async function load(runId) {
  const response = await fetch(`/api/runs/${runId}/evaluation`, { headers: { Accept: "application/json" } });
  if (response.status === 404) return;
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  render(await response.json());
}

/** Load and show run `runId`'s evaluation; a failure is written into the section's note. */
export function refreshEvaluation(runId) {
  load(runId).catch((err) => setText("evaluation-note", `Could not load the evaluation: ${err.message}`));
}
