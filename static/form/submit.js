/* Submitting the form: the request it makes (a new run, a sweep when the sweep editor has rows,
 * or a fork of the source run), posting it, and what follows — the new run's page, the sweep's
 * group in the runs list, or the server's errors shown at their fields. */

import { unwrapLocs } from "./errors.js";
import { gridSize } from "./sweep.js";

// {url, body, sweep}: where the form's config goes.
function request(config, source, sweepGrid, estimate) {
  if (source && source.fork) {
    const overrides = { ...config };
    if (overrides.name === source.run.config.name) delete overrides.name;  // server names forks
    return { url: `/api/runs/${source.run.id}/fork`, body: { epoch: source.epoch, overrides } };
  }
  const grid = sweepGrid();
  if (Object.keys(grid).length) return { url: "/api/sweeps", body: { config, grid }, sweep: true };
  // The checked estimate rides along: the run shows it as its ETA until real epochs replace it.
  const epochSeconds = estimate && estimate(config);
  return { url: "/api/runs", body: epochSeconds ? { ...config, estimated_epoch_seconds: epochSeconds } : config };
}

/** Send the form on submit. `getSource()` is the run it was prefilled from, or null. */
export function wireSubmit({ formEl, form, start, sweep, getSource, estimate }) {
  // Start says what it will queue: a sweep names its number of runs.
  const startLabel = () => {
    const source = getSource();
    if (source && source.fork) return "Start fork";
    let runs = 0;
    try { runs = gridSize(sweep.grid()); } catch (err) { runs = 0; }  // a half-filled row
    return runs > 1 ? `Start ${runs} runs` : "Start";
  };
  const relabel = () => { if (!start.disabled) start.textContent = startLabel(); };
  sweep.onChange(relabel);

  formEl.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.clearErrors();
    start.disabled = true;
    start.textContent = "Starting…";
    let keepDisabled = false;
    try {
      const req = request(form.collect(), getSource(), sweep.grid, estimate);
      const response = await fetch(req.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(req.body),
      });
      const body = await response.json().catch(() => null);
      if (response.status === 201 && req.sweep) {
        keepDisabled = true;
        location.href = `/?q=${encodeURIComponent(body.group_name)}`;
      } else if (response.status === 201 || (response.ok && body && body.id !== undefined)) {
        keepDisabled = true;
        location.href = `/runs/${body.id}`;
      } else if (response.status === 422 && body && body.detail !== undefined) {
        form.showErrors(unwrapLocs(body.detail));
      } else {
        const detail = body && body.detail !== undefined ? body.detail : response.statusText;
        form.showErrors(typeof detail === "string" ? `Error ${response.status}: ${detail}` : detail);
      }
    } catch (err) {
      form.showGeneral(err.message.startsWith("sweep") ? err.message : "Could not reach the server: " + err.message);
    } finally {
      if (!keepDisabled) {
        start.disabled = false;
        start.textContent = startLabel();
      }
    }
  });
}
