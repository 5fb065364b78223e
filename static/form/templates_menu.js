/* The "Start from" menu above the form: the server's named templates (a complete config each;
 * one whose data is not on this machine is listed, disabled, with the reason) and the recent
 * runs ("start from run N", the same as opening `/?from=N`). Picking a template loads its
 * config into the form; picking a run opens the form prefilled from it. */

import { h } from "../shared/dom.js";

const RECENT_RUNS = 20;

async function recentRuns() {
  const response = await fetch(`/api/runs?limit=${RECENT_RUNS}`, { headers: { Accept: "application/json" } });
  if (!response.ok) return [];
  return (await response.json()).runs || [];
}

/** Fill `select` with `templates` and the recent runs; `onTemplate(t)` applies a template. */
export async function wireTemplates(select, note, templates, onTemplate) {
  const templateGroup = h("optgroup", { label: "Templates" }, templates.map((t) => h("option", {
    value: `template:${t.id}`,
    text: t.available ? t.title : `${t.title} (${t.reason})`,
    disabled: !t.available,
    title: t.description,
  })));
  select.replaceChildren(h("option", { value: "", text: "Defaults" }), templateGroup);
  // Listening before the recent runs are read: a template picked while they load (a slow
  // server) is applied, not lost.
  select.addEventListener("change", () => {
    const [what, id] = select.value.split(":");
    if (what === "run") {
      location.href = `/?from=${encodeURIComponent(id)}`;
      return;
    }
    const template = templates.find((t) => t.id === id);
    onTemplate(template || null);
    note.textContent = template ? template.description : "";
    note.hidden = !template;
  });
  const runs = await recentRuns().catch(() => []);
  if (runs.length) {
    select.append(h("optgroup", { label: "Start from run" },
      runs.map((run) => h("option", { value: `run:${run.id}`, text: `#${run.id} ${run.name} (${run.status})` }))));
  }
  const fromId = new URLSearchParams(location.search).get("from");
  if (fromId) select.value = `run:${fromId}`;
}
