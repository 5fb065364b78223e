/* The run page's notes and tags: a plain-text notes box and a comma-separated tags line,
 * filled from the run and saved with PATCH /api/runs/{id}; while the user edits, updates of
 * the run from the event stream leave the boxes alone. A 422 names the bad tag. */

import { $, h } from "../shared/dom.js";

const parseTags = (text) => text.split(",").map((t) => t.trim()).filter(Boolean);

/** Wire the notes card for run `runId`: {render(run)} keeps it in step with the run. */
export function createNotesTags(runId) {
  const notes = $("run-notes");
  const tags = $("run-tags");
  const save = $("notes-save");
  const status = $("notes-status");
  const shown = $("run-tag-list");
  let dirty = false;

  const markDirty = () => { dirty = true; status.textContent = "unsaved changes"; };
  notes.addEventListener("input", markDirty);
  tags.addEventListener("input", markDirty);

  function showTags(list) {
    shown.replaceChildren(...(list || []).map((tag) => h("a", { class: "tag", href: `/?tag=${encodeURIComponent(tag)}`, text: tag })));
  }

  // Closed while empty, so the charts stay near the top; open where there is something to read
  // (unless the user opened or closed it before the run arrived).
  const details = $("notes-details");
  let decided = false;
  details.querySelector("summary").addEventListener("click", () => { decided = true; });
  function render(run) {
    showTags(run.tags);
    if (!decided && run.notes !== undefined) details.open = Boolean(run.notes);
    decided = true;
    if (dirty || run.notes === undefined) return;
    notes.value = run.notes || "";
    tags.value = (run.tags || []).join(", ");
  }

  save.addEventListener("click", async () => {
    save.disabled = true;
    status.textContent = "saving…";
    try {
      const response = await fetch(`/api/runs/${runId}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ notes: notes.value, tags: parseTags(tags.value) }),
      });
      const body = await response.json().catch(() => null);
      if (response.ok && body) {
        dirty = false;
        render(body);
        status.textContent = "saved";
      } else {
        const detail = body && body.detail;
        status.textContent = Array.isArray(detail)
          ? detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ")
          : `could not save: ${detail || `HTTP ${response.status}`}`;
      }
    } catch (err) {
      status.textContent = `could not reach the server: ${err.message}`;
    } finally {
      save.disabled = false;
    }
  });

  return { render };
}
