/* The run page's Model card: parameter count, class names, the model summary, the run's config
 * as JSON, and the buttons that copy that JSON or a curl command that launches the run again.
 * Without a clipboard (plain http on another host) the text is selected for Ctrl+C instead. */

import { $, setText } from "../shared/dom.js";

function curlCommand(run) {
  const body = JSON.stringify(run.config).replace(/'/g, "'\\''");
  return `curl -s ${location.origin}/api/runs -H 'content-type: application/json' -d '${body}'`;
}

/** The card: {show(prev, run)}. `getRun()` is the newest run; `onCopied(text)` hears of each
 * copy. */
export function createModelCard({ getRun, onCopied }) {
  let configShown = false;

  async function copy(text, what) {
    try {
      await navigator.clipboard.writeText(text);
      setText("copy-note", `${what} copied.`);
    } catch (err) {
      const pre = $("run-config");
      pre.textContent = text;
      window.getSelection().selectAllChildren(pre);
      setText("copy-note", `Press Ctrl+C to copy the ${what}.`);
    }
    onCopied(text);
  }

  $("copy-json").addEventListener("click", () => {
    const run = getRun();
    if (run) copy(JSON.stringify(run.config, null, 2), "JSON");
  });
  $("copy-curl").addEventListener("click", () => {
    const run = getRun();
    if (run) copy(curlCommand(run), "curl command");
  });

  function show(prev, run) {
    setText("run-params", run.parameter_count === null || run.parameter_count === undefined
      ? "–" : Number(run.parameter_count).toLocaleString("en-US"));
    setText("run-classes", run.class_names && run.class_names.length ? run.class_names.join(", ") : "–");
    if (run.model_summary) setText("model-summary", run.model_summary);
    if (run.config && (!prev || JSON.stringify(prev.config) !== JSON.stringify(run.config) || !configShown)) {
      setText("run-config", JSON.stringify(run.config, null, 2));
      configShown = true;
    }
  }

  return { show };
}
