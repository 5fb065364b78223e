/* The form builder: walks the run config's schema and builds nested nodes {el, get()} — a
 * fieldset per object, a `kind` select plus the chosen variant's fields per tagged union, and
 * a widget per leaf. `createRunForm` puts the tree in the page and offers collect / reset /
 * load and the error display. */

import { h } from "../shared/dom.js";
import { isComposite, isNullSchema, makeResolver, unionInfo } from "./schema.js";
import { buildScalar, fieldId, fieldShell, humanize } from "./widgets.js";
import { createErrorView } from "./errors.js";
import { buildDeviceChoice } from "./device_choice.js";

function childPath(path, key) {
  return path ? `${path}.${key}` : key;
}

// Build any node for `schema` at `path`, with initial `value` (undefined: use the default).
function buildNode(ctx, rawSchema, path, key, value, required) {
  let schema = ctx.resolve(rawSchema);
  if (value === undefined && schema.default !== undefined) value = schema.default;
  // Hook: the run's device is a choice of this server's devices (device_choice.js).
  if (path === "device") return buildDeviceChoice(schema, path, humanize(key), value, required);

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

  if (schema.type === "object" && schema.properties && !nullable) {
    return buildObject(ctx, schema, path, key, value || {}, {});
  }
  return buildScalar(ctx, schema, path, key, value, nullable, required);
}

// An object: a fieldset of its properties. `skip` hides the union's tag property.
function buildObject(ctx, schema, path, key, value, { skip, fixed, root, bare }) {
  const required = new Set(schema.required || []);
  const children = [];
  for (const [prop, propSchema] of Object.entries(schema.properties || {})) {
    if (prop === skip) continue;
    const node = buildNode(ctx, propSchema, childPath(path, prop), prop, value[prop], required.has(prop));
    children.push({ prop, node, composite: isComposite(propSchema, ctx.resolve) });
  }
  const get = () => {
    const out = { ...(fixed || {}) };
    for (const { prop, node } of children) out[prop] = node.get();
    return out;
  };

  if (root) {
    // The run itself: its scalar settings in one group, then one group per part.
    const general = h("fieldset", { class: "group", dataset: { field: "" } }, h("legend", { text: schema.title === "RunConfig" ? "Run" : (schema.title || "Run") }));
    const grid = h("div", { class: "form-groups" }, general);
    for (const child of children) (child.composite ? grid : general).append(child.node.el);
    return { el: grid, get };
  }
  const els = children.map((c) => c.node.el);
  if (bare) return { el: els, get };
  const fieldset = h("fieldset", { class: "group", dataset: { field: path } }, h("legend", { text: humanize(key) }), els, h("span", { class: "field-error" }));
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
    variantHelp.textContent = variant.schema.description || "";
    variantHelp.hidden = !variant.schema.description;
    select.value = variant.tag;
  }

  select.addEventListener("change", () => show(select.value));
  show(initialTag);

  const kindField = fieldShell(tagPath, union.prop, select, "", {});
  const fieldset = h("fieldset", { class: "group", dataset: { field: path } },
    h("legend", { text: humanize(key) }), kindField, variantHelp, body, h("span", { class: "field-error" }));
  return { el: fieldset, get: () => (active ? active.get() : null) };
}

/** The form for `schema` in `container`, filled with `defaults`; `generalBox` shows errors
 * that belong to no single field. */
export function createRunForm(container, schema, defaults, generalBox) {
  const ctx = { resolve: makeResolver(schema) };
  const errors = createErrorView(container, generalBox, schema, ctx.resolve);
  let root = null;

  function render(values) {
    root = buildObject(ctx, ctx.resolve(schema), "", "", values || {}, { root: true });
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
