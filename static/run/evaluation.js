/* The run page's evaluation of the best epoch, made by the server when the run ends: the
 * confusion matrix (left out above 40 classes), per-class accuracy, and the misclassified
 * validation images (PNG thumbnails the server renders with Pillow). */

import { $, h, setText } from "../shared/dom.js";
import { fmtPct } from "../shared/format.js";

const MAX_MATRIX_CLASSES = 40;

function renderMatrix(names, matrix) {
  const max = Math.max(1, ...matrix.flat());
  $("confusion-matrix").replaceChildren(
    h("tr", {}, h("th", {}), names.map((n) => h("th", { text: n }))),
    ...matrix.map((row, i) => h("tr", {}, h("th", { text: names[i] }), row.map((count, j) => {
      const alpha = count / max;
      const color = i === j ? `rgba(22, 163, 74, ${alpha})` : `rgba(220, 38, 38, ${alpha})`;
      return h("td", { style: `background:${color};color:${alpha > 0.55 ? "#fff" : "inherit"}`, title: `true ${names[i]}, predicted ${names[j]}: ${count}`, text: String(count) });
    }))),
  );
}

function render(evaluation) {
  const names = evaluation.class_names;
  setText("evaluation-note", `Epoch ${evaluation.epoch}, on the validation split.`);
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
  const examples = evaluation.misclassified.filter((m) => m.thumbnail_url);
  $("misclassified-wrap").hidden = !examples.length;
  $("misclassified").replaceChildren(...examples.map((m) => h("figure", { class: "thumb" },
    h("img", { src: m.thumbnail_url, alt: `predicted ${names[m.predicted]}, true ${names[m.true]}` }),
    h("figcaption", {}, h("span", { class: "pred", text: names[m.predicted] }), " / ", h("span", { class: "true", text: names[m.true] })))));
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
