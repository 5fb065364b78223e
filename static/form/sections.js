/* The form's top level as sections, laid out by the hints in the schema: the run config's
 * `ui.sections` lists them top to bottom, and each field names its own with `ui.section`
 * (a field with no hint goes to "advanced"). Each section is a disclosure: its heading shows a
 * one-line summary while it is collapsed, and whether it is open is remembered in this
 * browser (localStorage), so an "Advanced" opened once stays open. */

import { h } from "../shared/dom.js";
import { summarize } from "./summary.js";

const FALLBACK_SECTION = "advanced";
const STORAGE_PREFIX = "torchdash.form.open.";

function remembered(id) {
  try {
    const stored = localStorage.getItem(STORAGE_PREFIX + id);
    return stored === null ? null : stored === "1";
  } catch (err) {
    return null;  // storage refused (private mode): sections start as the schema says
  }
}

function remember(id, open) {
  try { localStorage.setItem(STORAGE_PREFIX + id, open ? "1" : "0"); } catch (err) { /* as above */ }
}

/** Group the root's `children` ({prop, node, schema}) into the schema's sections. */
function assign(rootSchema, children) {
  const defs = ((rootSchema.ui || {}).sections || []).slice();
  if (!defs.some((d) => d.id === FALLBACK_SECTION)) defs.push({ id: FALLBACK_SECTION, title: "Advanced", collapsed: true, summary: "changes" });
  const known = new Set(defs.map((d) => d.id));
  const members = new Map(defs.map((d) => [d.id, []]));
  for (const child of children) {
    const wanted = child.schema.ui && child.schema.ui.section;
    members.get(known.has(wanted) ? wanted : FALLBACK_SECTION).push(child);
  }
  return defs.map((def) => ({ def, children: members.get(def.id) })).filter((s) => s.children.length);
}

// One section: a <details> holding its fields, with the summary in its <summary>.
function buildSection(def, children, defaults) {
  // A section of one part (data, optimizer, a list) summarizes that part's value itself.
  const single = children.length === 1 && children[0].composite ? children[0] : null;
  const value = () => {
    if (single) return single.node.get();
    const out = {};
    for (const { prop, node } of children) out[prop] = node.get();
    return out;
  };
  const sectionDefaults = def.summary === "changes" ? defaults || {} : null;
  const summaryText = h("span", { class: "section-summary" });
  const details = h("details", { class: "form-section", id: `section-${def.id}`, dataset: { section: def.id } },
    h("summary", {}, h("span", { class: "section-title", text: def.title || def.id }), summaryText),
    h("div", { class: "section-body" + (single ? " single" : "") }, children.map((c) => c.node.el)));
  const stored = remembered(def.id);
  details.open = stored === null ? !def.collapsed : stored;

  const noun = single && single.schema.ui && single.schema.ui.item;
  const refresh = () => { summaryText.textContent = summarize(value(), noun || "item", sectionDefaults); };
  details.addEventListener("toggle", () => { remember(def.id, details.open); refresh(); });
  details.addEventListener("input", refresh);
  details.addEventListener("change", refresh);
  refresh();
  return details;
}

/** The root of the form: its sections, in the schema's order. */
export function buildSections(rootSchema, children, defaults) {
  return h("div", { class: "form-sections" },
    assign(rootSchema, children).map(({ def, children: members }) => buildSection(def, members, defaults)));
}
