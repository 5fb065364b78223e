/* The form builder: walks the run config's schema and builds nested nodes {el, get()} — a
 * fieldset per object, a `kind` select plus the chosen variant's fields per tagged union, rows
 * per list of objects, and a widget per leaf (a registered custom widget where the schema's
 * `ui.widget` hint names one), and a class choice with its typed arguments per plugin part
 * (plugin_choice.js). The top level is laid out in the schema's sections (sections.js).
 * `createRunForm` puts the tree in the page and offers collect / reset / load and the error
 * display. */

import { h } from "../shared/dom.js";
import { isComposite, isNullSchema, makeResolver, unionInfo } from "./schema.js";
import { buildScalar, fieldId, fieldShell, humanize, richText } from "./widgets.js";
import { createErrorView } from "./errors.js";
import { customWidget } from "./widget_registry.js";
import { buildList, isRowList } from "./list_editor.js";
import { buildSections } from "./sections.js";
import { buildPluginPart, isPluginPart } from "./plugin_choice.js";
import { followTask } from "./task_choices.js";

function childPath(path, key) {
  return path ? `${path}.${key}` : key;
}

// Build any node for `schema` at `path`, with initial `value` (undefined: use the default).
function buildNode(ctx, rawSchema, path, key, value, required) {
  let schema = ctx.resolve(rawSchema);
  if (value === undefined && schema.default !== undefined) value = schema.default;
  const custom = customWidget(schema);
  if (custom) return custom(ctx, schema, path, key, value, required);

  const union = unionInfo(schema, ctx.resolve);
  if (union) return buildUnion(ctx, schema, union, path, key, value);

  // Optional: anyOf [X, null] → X that maps "" to null.
  let nullable = false;
  const members = schema.anyOf || schema.oneOf;
  if (Array.isArray(members)) {
    const nonNull = members.filter((m) => !isNullSchema(ctx.resolve(m)));
    nullable = nonNull.length < members.length;
    if (nonNull.length === 1) {
      const { anyOf, oneOf, ...outer } = schema;
      const inner = ctx.resolve(nonNull[0]);
      const innerUnion = unionInfo(inner, ctx.resolve);
      if (innerUnion) return buildUnion(ctx, { ...inner, ...outer }, innerUnion, path, key, value, nullable);
      schema = { ...inner, ...outer, type: inner.type };
      if (isComposite(inner, ctx.resolve) && !nullable) return buildNode(ctx, schema, path, key, value, required);
    } else {
      schema = { ...schema, type: undefined };  // untagged union: JSON editor
    }
  }

  if (schema.type === "object" && schema.properties) {
    if (nullable) return buildOptionalObject(ctx, schema, path, key, value);
    return buildObject(ctx, schema, path, key, value || {}, {});
  }
  if (isRowList(schema, ctx.resolve, unionInfo)) return buildList(ctx, schema, path, key, value);
  return buildScalar(ctx, schema, path, key, value, nullable, required);
}

// An object: a fieldset of its properties. `skip` hides the union's tag property.
function buildObject(ctx, schema, path, key, value, { skip, fixed, root, bare }) {
  if (isPluginPart(schema)) return buildPluginPart(ctx, schema, path, key, value, { skip, fixed, bare });
  const required = new Set(schema.required || []);
  const children = [];
  for (const [prop, propSchema] of Object.entries(schema.properties || {})) {
    if (prop === skip) continue;
    const node = buildNode(ctx, propSchema, childPath(path, prop), prop, value[prop], required.has(prop));
    const composite = isComposite(propSchema, ctx.resolve) || isRowList(ctx.resolve(propSchema), ctx.resolve, unionInfo);
    children.push({ prop, node, composite, schema: ctx.resolve(propSchema) });
  }
  const get = () => {
    const out = { ...(fixed || {}) };
    for (const { prop, node } of children) out[prop] = node.get();
    return out;
  };

  if (root) return { el: buildSections(schema, children, ctx.defaults), get };
  // A kind's plain settings first, its lists (transform steps) under them.
  const els = [...children.filter((c) => !c.composite), ...children.filter((c) => c.composite)].map((c) => c.node.el);
  if (bare) return { el: els, get };
  const fieldset = h("fieldset", { class: "group", dataset: { field: path } }, h("legend", { text: humanize(key, schema) }), els, h("span", { class: "field-error" }));
  return { el: fieldset, get };
}

// An optional object (early stopping): a switch, and its fields while it is on; null when off.
function buildOptionalObject(ctx, schema, path, key, value) {
  const toggle = h("input", { type: "checkbox", id: fieldId(path), class: "optional-toggle", dataset: { path } });
  toggle.checked = value !== null && value !== undefined;
  const body = h("div", { class: "variant-body" });
  let inner = null;
  // A widget built inside (the metric choice) reads the whole form while `inner` is still
  // being built: until then this part has no value yet.
  const get = () => (toggle.checked && inner ? inner.get() : null);
  function show() {
    if (toggle.checked && !inner) inner = buildObject(ctx, schema, path, key, value || {}, { bare: true });
    body.replaceChildren(...(toggle.checked ? inner.el : []));
  }
  toggle.addEventListener("change", show);
  show();
  const fieldset = h("fieldset", { class: "group optional", dataset: { field: path } }, h("legend", { text: humanize(key, schema) }),
    fieldShell(`${path}.on`, "On", toggle, schema.description || "", { checkbox: true }), body, h("span", { class: "field-error" }));
  return { el: fieldset, get };
}

// A tagged union: a `kind` select and the chosen variant's fields. Variants are built on first
// use and kept (detached) when hidden, so switching back restores what was typed.
function buildUnion(ctx, schema, union, path, key, value, nullable) {
  const tagPath = childPath(path, union.prop);
  const select = h("select", { id: fieldId(tagPath), dataset: { path: tagPath } });
  if (nullable) select.append(h("option", { value: "", text: "(none)" }));
  for (const v of union.variants) select.append(h("option", { value: v.tag, text: v.tag }));
  const initialTag = value && value[union.prop] !== undefined ? String(value[union.prop])
    : nullable ? "" : union.variants[0].tag;
  const variantHelp = h("p", { class: "variant-help" });
  const body = h("div", { class: "variant-body" });
  const built = new Map();
  let active = null;

  function show(tag) {
    if (nullable && tag === "") {
      active = null;
      body.replaceChildren();
      variantHelp.hidden = true;
      select.value = "";
      return;
    }
    const variant = union.variants.find((v) => v.tag === tag) || union.variants[0];
    if (!built.has(variant.tag)) {
      const initial = value && String(value[union.prop]) === variant.tag ? value : {};
      built.set(variant.tag, buildObject(ctx, variant.schema, path, key, initial, {
        skip: union.prop,
        fixed: { [union.prop]: variant.schema.properties[union.prop].const !== undefined ? variant.schema.properties[union.prop].const : variant.tag },
        bare: true,
      }));
    }
    active = built.get(variant.tag);
    body.replaceChildren(...active.el);
    variantHelp.replaceChildren(...richText(variant.schema.description || ""));
    variantHelp.hidden = !variant.schema.description;
    select.value = variant.tag;
  }

  select.addEventListener("change", () => show(select.value));
  show(initialTag);
  if (schema.ui && schema.ui.task_kinds) followTask(ctx, select, schema.ui.task_kinds, show);

  const kindField = fieldShell(tagPath, humanize(union.prop), select, "", {});
  const fieldset = h("fieldset", { class: "group", dataset: { field: path } },
    h("legend", { text: humanize(key, schema) }), kindField, variantHelp, body, h("span", { class: "field-error" }));
  return { el: fieldset, get: () => (active ? active.get() : null) };
}

/** The form for `schema` in `container`, filled with `defaults`; `generalBox` shows errors
 * that belong to no single field. */
export function createRunForm(container, schema, defaults, generalBox) {
  let root = null;
  let rendering = null;  // the values being built: what the form holds until it is built
  const ctx = {
    resolve: makeResolver(schema),
    build: (c, ...args) => buildNode(c, ...args),
    defaults,
    schema,
    // The form's current config, for a widget whose choices follow other fields (metric_choice.js).
    current: () => (rendering || !root ? rendering || {} : root.get()),
  };
  const errors = createErrorView(container, generalBox, schema, ctx.resolve);

  function render(values) {
    rendering = values || {};
    try {
      root = buildObject(ctx, ctx.resolve(schema), "", "", rendering, { root: true });
    } finally {
      rendering = null;
    }
    container.replaceChildren(root.el);
  }

  render(defaults);
  return {
    collect: () => root.get(),
    reset: () => { render(defaults); errors.clear(); },
    load: (values) => { render(values); errors.clear(); },
    showErrors: errors.show,
    showGeneral: (message) => { errors.clear(); errors.showGeneral([message]); },
    clearErrors: errors.clear,
  };
}
