/* Submitting the form: the request it makes (a new run, a sweep when the sweep editor has rows
 * or asks for several seeds, a study in the sweep's Search mode, or a fork of the source run),
 * posting it, and what follows — the new run's page, the sweep's group in the runs list, the
 * study's page, or the server's errors shown at their fields. */

import { unwrapLocs } from "./errors.js";

// {url, body, sweep, study}: where the form's config goes.
function request(config, source, sweep, estimate) {
  if (source && source.fork) {
    const overrides = { ...config };
    if (overrides.name === source.run.config.name) delete overrides.name;  // server names forks
    return { url: `/api/runs/${source.run.id}/fork`, body: { epoch: source.epoch, overrides } };
  }
  const seeds = sweep.seeds ? sweep.seeds() : 1;
  if (sweep.mode && sweep.mode() === "search") return { url: "/api/studies", body: sweep.search.body(config, seeds), study: true };
  const grid = sweep.grid();
  if (Object.keys(grid).length || seeds !== 1) return { url: "/api/sweeps", body: { config, grid, ...(seeds !== 1 ? { seeds } : {}) }, sweep: true };
  // The checked estimate rides along: the run shows it as its ETA until real epochs replace it.
  const epochSeconds = estimate && estimate(config);
  return { url: "/api/runs", body: epochSeconds ? { ...config, estimated_epoch_seconds: epochSeconds } : config };
}

/** Send the form on submit. `getSource()` is the run it was prefilled from, or null. */
export function wireSubmit({ formEl, form, start, sweep, getSource, estimate }) {
  const startLabel = () => {
    const source = getSource();
    if (source && source.fork) return "Start fork";
    return sweep.mode && sweep.mode() === "search" ? "Start study" : "Start";
  };

  formEl.addEventListener("submit", async (event) => {
    event.preventDefault();
    form.clearErrors();
    if (sweep.search) sweep.search.clearErrors();
    start.disabled = true;
    start.textContent = "Starting…";
    let keepDisabled = false;
    try {
      const req = request(form.collect(), getSource(), sweep, estimate);
      const response = await fetch(req.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(req.body),
      });
      const body = await response.json().catch(() => null);
      if (response.status === 201 && req.study) {
        keepDisabled = true;
        location.href = `/studies/${body.id}`;
      } else if (response.status === 201 && req.sweep) {
        keepDisabled = true;
        location.href = `/?q=${encodeURIComponent(body.group_name)}`;
      } else if (response.status === 201 || (response.ok && body && body.id !== undefined)) {
        keepDisabled = true;
        location.href = `/runs/${body.id}`;
      } else if (response.status === 422 && body && body.detail !== undefined) {
        const rest = req.study ? sweep.search.showErrors(body.detail) : body.detail;
        if (!Array.isArray(rest) || rest.length) form.showErrors(unwrapLocs(rest));
      } else {
        const detail = body && body.detail !== undefined ? body.detail : response.statusText;
        form.showErrors(typeof detail === "string" ? `Error ${response.status}: ${detail}` : detail);
      }
    } catch (err) {
      form.showGeneral(/^(sweep|search)/.test(err.message) ? err.message : "Could not reach the server: " + err.message);
    } finally {
      if (!keepDisabled) {
        start.disabled = false;
        start.textContent = startLabel();
      }
    }
  });
}
