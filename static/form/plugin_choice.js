/* A plugin part of the config (data, model or loss of kind "plugin", each metric row): a choice
 * of the classes the server found in the plugins folder, then typed inputs for the chosen
 * class's constructor arguments. The schema of each such part carries
 * `"ui": {"plugin_args": {ClassName: JSON Schema of its args}, "plugin_kind": "Dataset"}`
 * (app/web/form_schema.py); the argument inputs are the form's usual widgets built from that
 * schema, at `<path>.args.<name>`, so a 422 at `data.args.width` lands on its input. Switching
 * the class shows its own arguments (those typed for another class are kept, detached, for
 * when it is chosen again). Files of the plugins folder that could not be read are listed
 * under the choice (GET /api/plugins). */

import { h } from "../shared/dom.js";
import { api } from "../shared/api.js";
import { fieldId, fieldShell, humanize, richText } from "./widgets.js";

let catalogErrors = null;  // one GET /api/plugins per page, shared by every plugin part

function unreadableFiles() {
  if (!catalogErrors) catalogErrors = api("GET", "/api/plugins").then((answer) => answer.errors).catch(() => []);
  return catalogErrors;
}

/** Is `schema` (resolved) a plugin part? */
export function isPluginPart(schema) {
  return Boolean(schema && schema.ui && schema.ui.plugin_args);
}

// May the argument be None? (`X | None`, or no type at all: any JSON value.)
function allowsNull(s) {
  if (s.type === "null" || (Array.isArray(s.anyOf) && s.anyOf.some((m) => m.type === "null"))) return true;
  return s.type === undefined && !s.anyOf && !s.enum && s.const === undefined;
}

// The args as the constructor gets them: an input left empty is left out, so the constructor's
// own default applies (or the server says the argument is needed) — unless the argument may be
// None and has a literal default or none at all: then empty means None.
function collectArgs(children, schema) {
  const out = {};
  const required = new Set(schema.required || []);
  for (const { prop, node } of children) {
    const value = node.get();
    const propSchema = (schema.properties || {})[prop] || {};
    const meansNone = allowsNull(propSchema) && ("default" in propSchema || required.has(prop));
    if ((value === null || value === undefined) && !meansNone) continue;
    out[prop] = value;
  }
  return out;
}

// The argument inputs of class `name`, starting from `values`.
function buildArgs(ctx, schema, path, values) {
  const argsPath = `${path}.args`;
  if (!schema) {  // a class the server does not list (it was renamed, say): its args as JSON
    const node = ctx.build(ctx, { type: "object", description: "The class's constructor arguments, as a JSON object." }, argsPath, "args", values, false);
    return { els: [node.el], get: () => node.get() || {} };
  }
  const required = new Set(schema.required || []);
  const children = Object.entries(schema.properties || {}).map(([prop, propSchema]) => ({
    prop,
    node: ctx.build(ctx, propSchema, `${argsPath}.${prop}`, prop, values[prop], required.has(prop)),
  }));
  const els = children.map((c) => c.node.el);
  if (!els.length) els.push(h("p", { class: "muted plugin-no-args", text: "No arguments." }));
  return { els, get: () => collectArgs(children, schema) };
}

/** The node {el, get} of a plugin part at `path`; `opts` as builder.js's buildObject takes
 * them (`skip` the union's tag, `fixed` its value, `bare`: the elements without a fieldset). */
export function buildPluginPart(ctx, schema, path, key, value, opts) {
  const { skip, fixed, bare } = opts || {};
  const hint = schema.ui;
  const classes = hint.plugin_args;
  const noun = hint.plugin_kind || "plugin";
  const nameSchema = ctx.resolve((schema.properties || {}).name || {});
  const names = Array.isArray(nameSchema.enum) ? nameSchema.enum : [];
  const namePath = `${path}.name`;
  let current = value.name !== undefined ? String(value.name) : names[0] || "";

  // The choice of class: a select of those found, or a text box when none were.
  let nameInput;
  if (names.length) {
    nameInput = h("select", { id: fieldId(namePath), dataset: { path: namePath } });
    const offered = names.includes(current) || !current ? names : [...names, current];
    for (const name of offered) {
      const text = names.includes(name) ? name : `${name} (not in the plugins folder)`;
      nameInput.append(h("option", { value: name, text }));
    }
    nameInput.value = current;
  } else {
    nameInput = h("input", { type: "text", id: fieldId(namePath), dataset: { path: namePath }, autocomplete: "off", spellcheck: "false" });
    nameInput.value = current;
  }
  const empty = names.length ? "" : `No ${noun} class was found in the plugins folder: add a file there, or type a class name.`;
  const nameField = fieldShell(namePath, "Class", nameInput, [nameSchema.description, empty].filter(Boolean).join(" · "), { required: true });
  const doc = h("p", { class: "variant-help plugin-doc" });
  // Files that could not be read, once per section (not in each metric row).
  const notes = h("p", { class: "plugin-errors small-text" });
  if (!/\.\d+$/.test(path)) {
    unreadableFiles().then((errors) => {
      notes.textContent = errors.length ? `Plugin files not read: ${errors.map((e) => `${e.file} (${e.error})`).join("; ")}` : "";
    });
  }

  // The arguments of the chosen class, each class's built once.
  const argsBox = h("div", { class: "plugin-args" });
  const argsField = h("div", { class: "field plugin-args-field", dataset: { field: `${path}.args` } },
    h("span", { class: "list-label", text: "args" }), argsBox, h("span", { class: "field-error", "aria-live": "polite" }));
  const built = new Map();
  let args = null;
  function show(name) {
    current = name;
    if (!built.has(name)) {
      const initial = value.name === name && value.args && typeof value.args === "object" ? value.args : {};
      built.set(name, buildArgs(ctx, classes[name], path, initial));
    }
    args = built.get(name);
    argsBox.replaceChildren(...args.els);
    const described = classes[name] && classes[name].description;
    doc.replaceChildren(...richText(described || ""));
    doc.hidden = !described;
  }
  nameInput.addEventListener(names.length ? "change" : "input", () => show(nameInput.value.trim()));
  show(current);

  // The part's other settings (a Dataset's `cache`, a metric's `mode`), as usual.
  const others = [];
  for (const [prop, propSchema] of Object.entries(schema.properties || {})) {
    if (prop === "name" || prop === "args" || prop === skip || prop === "kind") continue;
    const node = ctx.build(ctx, propSchema, `${path}.${prop}`, prop, value[prop], false);
    others.push({ prop, node });
  }

  const kind = fixed || { kind: "plugin" };
  const get = () => {
    const out = { ...kind, name: current, args: args ? args.get() : {} };
    for (const { prop, node } of others) out[prop] = node.get();
    return out;
  };
  const els = [nameField, doc, notes, argsField, ...others.map((o) => o.node.el)];
  if (bare) return { el: els, get };
  const fieldset = h("fieldset", { class: "group plugin-part", dataset: { field: path } },
    h("legend", { text: humanize(key, schema) }), els, h("span", { class: "field-error" }));
  return { el: fieldset, get };
}
