/* The "Check" button: POST /api/preflight with the form's config (a worker builds the data and
 * the model and times a few real training steps), and the answer shown inline under the form —
 * the model's size and shapes, the data's size, the time per batch, epoch and run, the peak
 * memory, what was found in a table's or text file's columns — or the 422's reasons at their fields (a shape mismatch lands at "model"). The last
 * estimate is kept so a run queued with the same config carries it as its ETA. */

import { h } from "../shared/dom.js";
import { unwrapLocs } from "./errors.js";

const count = (n) => Number(n).toLocaleString("en-US");

function duration(seconds) {
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 120) return `${seconds.toFixed(1)} s`;
  if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

const shape = (dims) => `[${dims.join(", ")}]`;

const ROLE_ORDER = { target: 0, text: 1, feature: 2, ignored: 3 };

/* What the worker found in a table's or a text file's columns: rows per split, the classes or
 * the target range, the vocabulary, and one table row per column (type, role, empty cells). */
function dataReport(data) {
  const facts = [["rows", `${count(data.rows.train)} train / ${count(data.rows.val)} val`]];
  if (data.classes) facts.push([`classes (${data.classes.length})`, data.classes.join(", ")]);
  if (data.target_range) facts.push(["target range", `${data.target_range.min} … ${data.target_range.max}`]);
  if (data.vocabulary_size !== null && data.vocabulary_size !== undefined) facts.push(["vocabulary", count(data.vocabulary_size)]);
  const columns = [...data.columns].sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role]);
  return h("section", { class: "check-data", dataset: { kind: data.kind } },
    h("h4", { text: `Data (${data.kind})` }),
    h("dl", { class: "facts check-facts" }, facts.map(([k, v]) => h("div", { dataset: { fact: k } }, h("dt", { text: k }), h("dd", { text: v })))),
    h("table", { class: "check-columns" },
      h("thead", {}, h("tr", {}, ["column", "type", "role", "missing"].map((t) => h("th", { text: t })))),
      h("tbody", {}, columns.map((c) => h("tr", { dataset: { column: c.name, role: c.role } },
        h("td", { text: c.name }), h("td", { text: c.dtype }), h("td", { text: c.role }),
        h("td", { class: c.missing ? "missing" : "", text: count(c.missing) }))))));
}

function report(answer, maxEpochs) {
  const facts = [
    ["parameters", count(answer.parameter_count)],
    ["shapes", `${shape(answer.input_shape)} → ${shape(answer.output_shape)}`],
    ["samples", `${count(answer.train_samples)} train / ${count(answer.val_samples)} val`],
    ["batches per epoch", count(answer.batches_per_epoch)],
    ["per batch", `${duration(answer.seconds_per_batch)} (mean of ${answer.measured_batches})`],
    ["epoch", `≈ ${duration(answer.epoch_seconds_estimate)}`],
    ["run", `≈ ${duration(answer.run_seconds_estimate)} for ${maxEpochs} epochs`],
    ["peak memory", `${answer.peak_memory_mb.toFixed(1)} MB${answer.peak_memory_kind === "rss_growth" ? " (process growth)" : ""}`],
    ["measured on", `${answer.device}, ${answer.worker} worker, in ${duration(answer.seconds)}`],
  ];
  return [
    h("dl", { class: "facts check-facts" }, facts.map(([k, v]) => h("div", { dataset: { fact: k } }, h("dt", { text: k }), h("dd", { text: v })))),
    ...(answer.data_report ? [dataReport(answer.data_report)] : []),
    h("details", { class: "check-model" }, h("summary", { text: "Model summary" }), h("pre", { text: answer.model_summary })),
  ];
}

/** Wire `button` to check the form's config into `box`; returns {estimateFor(config)}. */
export function wireCheck(button, box, form) {
  let last = null;  // {key, epochSeconds}: the config last checked and its estimate

  button.addEventListener("click", async () => {
    const config = form.collect();
    form.clearErrors();
    button.disabled = true;
    box.hidden = false;
    box.className = "check-result pending";
    box.replaceChildren("Checking: building the data and the model, timing a few batches…");
    try {
      const response = await fetch("/api/preflight", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(config),
      });
      const body = await response.json().catch(() => null);
      if (response.ok && body) {
        last = { key: JSON.stringify(config), epochSeconds: body.epoch_seconds_estimate };
        box.className = "check-result ok";
        box.replaceChildren(h("strong", { text: "Check passed. " }), ...report(body, config.max_epochs));
      } else if (response.status === 422 && body) {
        last = null;
        box.className = "check-result failed";
        const items = Array.isArray(body.detail) ? body.detail : [{ msg: String(body.detail) }];
        box.replaceChildren(h("strong", { text: "Check failed: " }), items.map((i) => String(i.msg).replace(/^Value error, /, "")).join("; "));
        if (Array.isArray(body.detail)) form.showErrors(unwrapLocs(body.detail));
      } else {
        box.className = "check-result failed";
        box.replaceChildren(response.status === 404 || response.status === 405
          ? "This server has no POST /api/preflight." : `Check failed: HTTP ${response.status} ${body && body.detail ? body.detail : ""}`);
      }
    } catch (err) {
      box.className = "check-result failed";
      box.replaceChildren("Could not reach the server: " + err.message);
    } finally {
      button.disabled = false;
    }
  });

  return {
    /** The checked epoch estimate when `config` is what was checked, else null. */
    estimateFor: (config) => (last && last.key === JSON.stringify(config) ? last.epochSeconds : null),
  };
}
