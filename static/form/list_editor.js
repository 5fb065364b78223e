/* List editors: an array whose items are objects or tagged unions (transform steps, parameter
 * groups) is edited as rows — each row the item's own fields (a `kind` select and that kind's
 * fields for a union) with buttons to move it up or down and to remove it, and an "add" button
 * under the rows. Rows are rebuilt after every add, move or remove, so each input's dotted path
 * (`data.train_transforms.0.size`) always matches its place in the list. */

import { h } from "../shared/dom.js";
import { humanize, richText } from "./widgets.js";

/** Does `schema` describe a list of objects or tagged unions? */
export function isRowList(schema, resolve, unionInfo) {
  if (schema.type !== "array" || !schema.items) return false;
  const item = resolve(schema.items);
  return Boolean(unionInfo(item, resolve)) || (item.type === "object" && Boolean(item.properties));
}

function rowButton(action, text, label) {
  return h("button", { type: "button", class: "button secondary small row-button", dataset: { action }, text, "aria-label": label, title: label });
}

/** The editor for the list at `path`; `ctx.build` builds one item's node. */
export function buildList(ctx, schema, path, key, value) {
  const hint = schema.ui || {};
  const noun = hint.item || "row";
  let rows = [];
  const list = h("ol", { class: "list-rows" });
  const empty = h("p", { class: "muted list-empty", text: `No ${noun}s.` });
  const add = h("button", { type: "button", class: "button secondary small list-add", text: `+ Add ${noun}` });
  const help = schema.description ? h("span", { class: "help" }, richText(schema.description)) : null;
  const wrap = h("div", { class: "field list-field", dataset: { field: path, list: noun } },
    h("span", { class: "list-label", text: humanize(key, schema) }), help, list, empty, add,
    h("span", { class: "field-error", "aria-live": "polite" }));

  function render(values) {
    rows = values.map((item, index) => {
      const node = ctx.build(ctx, schema.items, `${path}.${index}`, `${noun} ${index + 1}`, item, true);
      const controls = h("div", { class: "row-controls" },
        rowButton("up", "↑", `Move ${noun} ${index + 1} up`),
        rowButton("down", "↓", `Move ${noun} ${index + 1} down`),
        rowButton("remove", "✕", `Remove ${noun} ${index + 1}`));
      const li = h("li", { class: "list-row", dataset: { index: String(index) } }, node.el, controls);
      return { node, li };
    });
    list.replaceChildren(...rows.map((row) => row.li));
    empty.hidden = rows.length > 0;
    const max = schema.maxItems;
    add.disabled = max !== undefined && rows.length >= max;
  }

  const current = () => rows.map((row) => row.node.get());

  // Rebuild from the rows' current values after `edit` changed the array in place.
  function change(edit) {
    const values = current();
    edit(values);
    render(values);
    wrap.dispatchEvent(new Event("change", { bubbles: true }));
  }

  add.addEventListener("click", () => change((values) => values.push(undefined)));
  list.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button || !list.contains(button)) return;
    const index = Number(button.closest("li.list-row").dataset.index);
    const action = button.dataset.action;
    change((values) => {
      if (action === "remove") values.splice(index, 1);
      const to = action === "up" ? index - 1 : action === "down" ? index + 1 : -1;
      if (to >= 0 && to < values.length) [values[index], values[to]] = [values[to], values[index]];
    });
  });

  render(Array.isArray(value) ? value : []);
  return { el: wrap, get: current };
}
