/* The run page's action buttons: Cancel, Resume (optionally with a new epoch limit), Run again
 * ×k (copies with new seeds, then the compare page of the run and its seed group) and Delete.
 * Each posts to the API, shows the answer in the header, and puts a failure's message beside
 * the buttons. */

import { $ } from "../shared/dom.js";
import { api } from "../shared/api.js";

/** Wire the buttons of run `runId`; `getRun()` is the newest run, `render(run)` shows one. */
export function wireActions({ runId, getRun, render }) {
  const actionError = $("action-error");

  $("cancel-button").addEventListener("click", async () => {
    actionError.textContent = "";
    $("cancel-button").disabled = true;
    try {
      render(await api("POST", `/api/runs/${runId}/cancel`));
    } catch (err) {
      actionError.textContent = err.message;
      $("cancel-button").disabled = false;
    }
  });

  $("resume-button").addEventListener("click", async () => {
    actionError.textContent = "";
    const input = $("resume-max-epochs");
    const body = {};
    if (input.value.trim() !== "") body.max_epochs = Number(input.value);
    $("resume-button").disabled = true;
    try {
      render(await api("POST", `/api/runs/${runId}/resume`, body));
      input.value = "";
    } catch (err) {
      actionError.textContent = err.message;
      const run = getRun();
      if (err.status === 409 && run && run.epoch >= run.max_epochs && input.value.trim() === "") {
        // Finished at max_epochs: offer more epochs to train.
        input.value = String(run.max_epochs + 10);
        input.focus();
        input.select();
      }
    } finally {
      $("resume-button").disabled = false;
    }
  });

  $("repeat-button").addEventListener("click", async () => {
    actionError.textContent = "";
    $("repeat-button").disabled = true;
    try {
      const group = await api("POST", `/api/runs/${runId}/repeat`, { seeds: Number($("repeat-seeds").value) });
      location.href = `/compare?ids=${[runId, ...group.runs.map((run) => run.id)].join(",")}`;
    } catch (err) {
      actionError.textContent = err.message;
      $("repeat-button").disabled = false;
    }
  });

  $("delete-button").addEventListener("click", async () => {
    actionError.textContent = "";
    const run = getRun();
    if (!window.confirm(`Delete run #${runId} (${run ? run.name : ""}) with its metrics, checkpoints and log? This cannot be undone.`)) return;
    try {
      await api("DELETE", `/api/runs/${runId}`);
      location.href = "/";
    } catch (err) {
      actionError.textContent = err.message;
    }
  });
}
