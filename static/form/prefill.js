/* Prefilling the form from another run: `/?from=ID` (run again) and `/?fork=ID&epoch=N` (fork)
 * load that run's config into the form and retitle it; afterwards every field whose value
 * differs from the source run is highlighted and listed in the note above the form. */

import { $, h } from "../shared/dom.js";
import { flatten } from "../shared/config_paths.js";

/** Load the run named in the page's query into `form`; null when there is none. */
export async function loadSource(form) {
  const params = new URLSearchParams(location.search);
  const forkId = params.get("fork");
  const againId = params.get("from");
  const sourceId = forkId || againId;
  if (!sourceId) return null;
  const response = await fetch(`/api/runs/${encodeURIComponent(sourceId)}`, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`run ${sourceId} could not be loaded (HTTP ${response.status})`);
  const run = await response.json();
  const source = { run, fork: Boolean(forkId), epoch: forkId ? Number(params.get("epoch")) : null };
  form.load(run.config);
  $("form-title").textContent = source.fork
    ? `Fork run #${run.id} from epoch ${source.epoch}` : `Run #${run.id} again`;
  $("start-button").textContent = source.fork ? "Start fork" : "Start";
  $("new-run").classList.add("prefilled");
  $("new-run").scrollIntoView({ block: "start" });
  if (source.fork) $("sweep-details").hidden = true;
  return source;
}

/** Mark each field whose value differs from `base`; returns the changed paths. */
export function highlightChanges(container, current, base) {
  const now = flatten(current);
  const before = flatten(base);
  const changed = Object.keys(now).filter((path) => now[path] !== before[path]);
  const set = new Set(changed);
  container.querySelectorAll("[data-field]").forEach((el) => {
    el.classList.toggle("changed", set.has(el.dataset.field));
  });
  return changed;
}

/** Highlight what the form changed from `source` and say so in `note`. */
export function showChanges(fields, note, form, source) {
  const changed = highlightChanges(fields, form.collect(), source.run.config);
  const what = source.fork ? `fork of run #${source.run.id} at epoch ${source.epoch}` : `copy of run #${source.run.id}`;
  note.replaceChildren(
    `A ${what} (`, h("a", { href: `/runs/${source.run.id}`, text: source.run.name }), "): ",
    changed.length ? `${changed.length} change${changed.length > 1 ? "s" : ""}, highlighted: ${changed.join(", ")}` : "no changes yet.",
  );
  note.hidden = false;
}
