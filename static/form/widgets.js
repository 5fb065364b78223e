/* The form's leaf widgets: one labelled field per scalar setting (select for enums and
 * optional booleans, checkbox, number, comma-separated lists, text, and a JSON textarea for
 * anything else). Each widget is a node {el, get()}; its input carries the dotted config path
 * in `data-path` and its wrapper the same path in `data-field`, where errors are shown. */

import { h } from "../shared/dom.js";
import { isNumberList, isNumericSchema } from "./schema.js";

let idCounter = 0;

/** A unique element id for the input at `path`. */
export function fieldId(path) {
  idCounter += 1;
  return "f-" + (path || "root").replace(/[^A-Za-z0-9_-]/g, "-") + "-" + idCounter;
}

// A model's own title (a class name such as "ParamGroup") names the type, not the field.
const CLASS_TITLE = /^[A-Z][a-z0-9]+[A-Z]/;

/** A field's label: the schema's title (the config sets human ones, e.g. "Epochs" for
 * max_epochs), else the key in sentence case. A list row's key ("group 2") is kept. */
export function humanize(key, schema) {
  const title = schema && schema.title;
  if (typeof title === "string" && title && !CLASS_TITLE.test(title) && !/\s/.test(key || "")) return title;
  const words = String(key || "").replace(/_/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** `text` as nodes, its `code` spans as <code>: the config's help is written for both the API
 * docs (Markdown) and the form, so no backtick reaches the page. */
export function richText(text) {
  return String(text || "").split(/`([^`]+)`/).map((part, i) => (i % 2 ? h("code", { text: part }) : part));
}

function constraintHint(s) {
  const parts = [];
  const lo = s.exclusiveMinimum !== undefined ? `${s.exclusiveMinimum} <` : s.minimum !== undefined ? `${s.minimum} ≤` : "";
  const hi = s.exclusiveMaximum !== undefined ? `< ${s.exclusiveMaximum}` : s.maximum !== undefined ? `≤ ${s.maximum}` : "";
  if (lo || hi) parts.push([lo, "x", hi].filter(Boolean).join(" "));
  if (s.type === "integer") parts.push("integer");
  return parts.join(", ");
}

function helpText(schema, extra) {
  return [schema.description, extra, constraintHint(schema)].filter(Boolean).join(" · ");
}

/** The wrapper of one field: label, control, help line and an empty error slot. */
export function fieldShell(path, labelText, control, help, opts) {
  const wrap = h("div", { class: "field" + (opts && opts.checkbox ? " checkbox" : ""), dataset: { field: path } });
  if (opts && opts.checkbox) {
    wrap.append(h("label", { for: control.id }, control, labelText));
  } else {
    wrap.append(
      h("label", { for: control.id }, labelText, opts && opts.required ? h("span", { class: "required-mark", text: "*", "aria-hidden": "true" }) : null),
      control,
    );
  }
  // The help in full under the field: a tooltip is out of reach on a touch screen.
  if (help) wrap.append(h("span", { class: "help" }, richText(help)));
  wrap.append(h("span", { class: "field-error", "aria-live": "polite" }));
  return wrap;
}

function numberInput(path, schema, value) {
  const attrs = {
    type: "number",
    id: fieldId(path),
    step: schema.type === "integer" ? "1" : "any",
    dataset: { path },
  };
  const min = schema.minimum !== undefined ? schema.minimum : schema.exclusiveMinimum;
  const max = schema.maximum !== undefined ? schema.maximum : schema.exclusiveMaximum;
  if (min !== undefined) attrs.min = min;
  if (max !== undefined) attrs.max = max;
  const input = h("input", attrs);
  if (value !== null && value !== undefined) input.value = String(value);
  return input;
}

function parseNumber(raw) {
  const n = Number(raw);
  // A non-number goes to the server as typed, so its 422 names the bad value at this field.
  return raw === "" || !Number.isFinite(n) ? raw : n;
}

/** The widget for a non-composite schema node at `path`, showing `value`. */
export function buildScalar(ctx, schema, path, key, value, nullable, required) {
  const label = humanize(key, schema);
  const type = schema.type;
  const enumValues = Array.isArray(schema.enum) ? schema.enum : schema.const !== undefined ? [schema.const] : null;

  if (enumValues || (type === "boolean" && nullable)) {
    const values = enumValues || [true, false];
    const options = nullable ? [null, ...values] : values;
    const select = h("select", { id: fieldId(path), dataset: { path } });
    options.forEach((v, i) => select.append(h("option", { value: String(i), text: v === null ? "(none)" : String(v) })));
    const index = options.findIndex((v) => v === value);
    select.value = String(index >= 0 ? index : 0);
    return {
      el: fieldShell(path, label, select, helpText(schema), { required }),
      get: () => options[Number(select.value)],
    };
  }

  if (type === "boolean") {
    const box = h("input", { type: "checkbox", id: fieldId(path), dataset: { path } });
    box.checked = Boolean(value);
    return { el: fieldShell(path, label, box, helpText(schema), { checkbox: true }), get: () => box.checked };
  }

  if (isNumericSchema(schema)) {
    const input = numberInput(path, schema, value);
    if (nullable) input.placeholder = "empty = none";
    return {
      el: fieldShell(path, label, input, helpText(schema), { required }),
      get: () => {
        const raw = input.value.trim();
        if (raw === "") return input.validity.badInput ? "invalid number" : null;
        return parseNumber(raw);
      },
    };
  }

  if (type === "array" && isNumberList(schema, ctx.resolve)) {
    const input = h("input", { type: "text", id: fieldId(path), dataset: { path }, inputmode: "decimal", autocomplete: "off" });
    if (Array.isArray(value)) input.value = value.join(", ");
    const fixed = Array.isArray(schema.prefixItems) ? `${schema.prefixItems.length} numbers, comma-separated` : "comma-separated numbers";
    if (nullable) input.placeholder = "empty = none";
    return {
      el: fieldShell(path, label, input, helpText(schema, fixed), { required }),
      get: () => {
        const raw = input.value.trim();
        if (raw === "") return nullable ? null : [];
        return raw.split(/[\s,;]+/).filter(Boolean).map((t) => parseNumber(t));
      },
    };
  }

  if (type === "array" && ctx.resolve(schema.items || {}).type === "string") {
    const input = h("input", { type: "text", id: fieldId(path), dataset: { path }, autocomplete: "off" });
    if (Array.isArray(value)) input.value = value.join(", ");
    return {
      el: fieldShell(path, label, input, helpText(schema, "comma-separated"), { required }),
      get: () => {
        const raw = input.value.trim();
        if (raw === "") return nullable ? null : [];
        return raw.split(",").map((t) => t.trim()).filter(Boolean);
      },
    };
  }

  if (type === "string") {
    const input = h("input", { type: "text", id: fieldId(path), dataset: { path }, autocomplete: "off", spellcheck: "false" });
    if (schema.pattern) input.pattern = schema.pattern;
    if (schema.maxLength !== undefined) input.maxLength = schema.maxLength;
    if (nullable) input.placeholder = "empty = none";
    if (value !== null && value !== undefined) input.value = String(value);
    return {
      el: fieldShell(path, label, input, helpText(schema), { required }),
      get: () => (nullable && input.value.trim() === "" ? null : input.value),
    };
  }

  // Anything else (arrays of objects, untagged unions, free dicts): edit it as JSON.
  const area = h("textarea", { id: fieldId(path), dataset: { path }, spellcheck: "false", rows: 3 });
  area.value = value === undefined ? "" : JSON.stringify(value);
  return {
    el: fieldShell(path, label, area, helpText(schema, "JSON"), { required }),
    get: () => {
      const raw = area.value.trim();
      if (raw === "") return null;
      try { return JSON.parse(raw); } catch (e) { return raw; }
    },
  };
}
