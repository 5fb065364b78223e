/* torchdash: the "New run" form, generated from the run config's JSON Schema.
 *
 * The schema is pydantic v2's output: `$defs` + `$ref`, tagged unions as `oneOf` with a
 * `discriminator`, optional fields as `anyOf [..., {type: "null"}]`, Literals as `const`/`enum`.
 * Nothing here knows about optimizers or models: new kinds appear in the form when the schema
 * grows. Every input carries its dotted config path in `data-path`, and every field's wrapper in
 * `data-field`, so server errors (FastAPI 422 `loc`s) can be shown beside the field they name.
 */
(function () {
  "use strict";

  const { h } = window.dom; // static/dom.js

  let idCounter = 0;
  function fieldId(path) {
    idCounter += 1;
    return "f-" + (path || "root").replace(/[^A-Za-z0-9_-]/g, "-") + "-" + idCounter;
  }

  // --- schema helpers ------------------------------------------------------------------------

  function makeResolver(root) {
    function lookup(ref) {
      if (!ref.startsWith("#/")) throw new Error("unsupported $ref " + ref);
      return ref
        .slice(2)
        .split("/")
        .map((part) => part.replace(/~1/g, "/").replace(/~0/g, "~"))
        .reduce((node, part) => (node ? node[part] : undefined), root);
    }
    // Follow $ref (keeping sibling keywords such as description/default) and single-item allOf.
    return function resolve(schema) {
      let current = schema || {};
      for (let depth = 0; depth < 32; depth += 1) {
        if (current.$ref) {
          const { $ref, ...rest } = current;
          current = { ...lookup($ref), ...rest };
        } else if (Array.isArray(current.allOf) && current.allOf.length === 1) {
          const { allOf, ...rest } = current;
          current = { ...resolve(allOf[0]), ...rest };
        } else {
          return current;
        }
      }
      throw new Error("$ref cycle in the schema");
    };
  }

  const isNullSchema = (s) => s && (s.type === "null" || (s.const === null && !s.type));
  const isNumericSchema = (s) => s && (s.type === "number" || s.type === "integer");

  function unionInfo(schema, resolve) {
    // A tagged union: oneOf/anyOf + discriminator. Returns [{tag, schema}] in declaration order.
    const members = schema.oneOf || schema.anyOf;
    if (!Array.isArray(members) || !schema.discriminator) return null;
    const prop = schema.discriminator.propertyName;
    const variants = [];
    for (const member of members) {
      const resolved = resolve(member);
      const tagSchema = resolve((resolved.properties || {})[prop] || {});
      const tag = tagSchema.const !== undefined ? tagSchema.const
        : Array.isArray(tagSchema.enum) ? tagSchema.enum[0] : undefined;
      if (tag !== undefined) variants.push({ tag: String(tag), schema: resolved });
    }
    return variants.length ? { prop, variants } : null;
  }

  function constraintHint(s) {
    const parts = [];
    const lo = s.exclusiveMinimum !== undefined ? `${s.exclusiveMinimum} <` : s.minimum !== undefined ? `${s.minimum} ≤` : "";
    const hi = s.exclusiveMaximum !== undefined ? `< ${s.exclusiveMaximum}` : s.maximum !== undefined ? `≤ ${s.maximum}` : "";
    if (lo || hi) parts.push([lo, "x", hi].filter(Boolean).join(" "));
    if (s.type === "integer") parts.push("integer");
    return parts.join(", ");
  }

  function humanize(key) {
    return key;  // torch's own argument names (lr, weight_decay) are what users know
  }

  // --- field nodes: each is {el, get()} ------------------------------------------------------

  function fieldShell(path, labelText, control, help, opts) {
    const wrap = h("div", { class: "field" + (opts && opts.checkbox ? " checkbox" : ""), dataset: { field: path } });
    if (opts && opts.checkbox) {
      wrap.append(h("label", { for: control.id }, control, labelText));
    } else {
      wrap.append(
        h("label", { for: control.id }, labelText, opts && opts.required ? h("span", { class: "required-mark", text: "*" }) : null),
        control,
      );
    }
    if (help) wrap.append(h("span", { class: "help", title: help, text: help }));
    wrap.append(h("span", { class: "field-error", "aria-live": "polite" }));
    return wrap;
  }

  function helpText(schema, extra) {
    return [schema.description, extra, constraintHint(schema)].filter(Boolean).join(" · ");
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

  function parseNumber(raw, integer) {
    const n = Number(raw);
    // A non-number goes to the server as typed, so its 422 names the bad value at this field.
    return raw === "" || !Number.isFinite(n) ? raw : n;
  }

  function buildScalar(ctx, schema, path, key, value, nullable, required) {
    const label = humanize(key);
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
          return parseNumber(raw, type === "integer");
        },
      };
    }

    if (type === "array" && isNumberList(schema, ctx.resolve)) {
      const input = h("input", { type: "text", id: fieldId(path), dataset: { path }, inputmode: "decimal", autocomplete: "off" });
      if (Array.isArray(value)) input.value = value.join(", ");
      const fixed = Array.isArray(schema.prefixItems) ? `${schema.prefixItems.length} numbers, comma-separated` : "comma-separated numbers";
      if (nullable) input.placeholder = "empty = none";
      const itemSchema = ctx.resolve(schema.items || (schema.prefixItems || [])[0] || {});
      return {
        el: fieldShell(path, label, input, helpText(schema, fixed), { required }),
        get: () => {
          const raw = input.value.trim();
          if (raw === "") return nullable ? null : [];
          return raw.split(/[\s,;]+/).filter(Boolean).map((t) => parseNumber(t, itemSchema.type === "integer"));
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

  function isNumberList(schema, resolve) {
    if (Array.isArray(schema.prefixItems)) return schema.prefixItems.every((s) => isNumericSchema(resolve(s)));
    return isNumericSchema(resolve(schema.items || {}));
  }

  function isComposite(schema, resolve) {
    let s = resolve(schema);
    const members = !s.discriminator && (s.anyOf || s.oneOf);
    if (Array.isArray(members)) {
      const nonNull = members.filter((m) => !isNullSchema(resolve(m)));
      if (nonNull.length === 1) s = resolve(nonNull[0]);
    }
    return Boolean(unionInfo(s, resolve)) || (s.type === "object" && s.properties);
  }

  // Build any node for `schema` at `path`, with initial `value` (undefined: use the default).
  function buildNode(ctx, rawSchema, path, key, value, required) {
    let schema = ctx.resolve(rawSchema);
    if (value === undefined && schema.default !== undefined) value = schema.default;

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

  function childPath(path, key) {
    return path ? `${path}.${key}` : key;
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

  // --- errors --------------------------------------------------------------------------------

  // FastAPI loc → config path: drop "body" and the union tags pydantic puts in the loc.
  function locToPath(rootSchema, resolve, loc) {
    const segs = Array.isArray(loc) ? loc.slice() : [];
    if (segs[0] === "body") segs.shift();
    const out = [];
    let cur = rootSchema;
    for (const seg of segs) {
      let s = cur ? resolve(cur) : null;
      if (s && (s.anyOf || s.oneOf) && !s.discriminator) {
        const nonNull = (s.anyOf || s.oneOf).filter((m) => !isNullSchema(resolve(m)));
        if (nonNull.length === 1) s = resolve(nonNull[0]);
      }
      const union = s ? unionInfo(s, resolve) : null;
      if (union) {
        const variant = union.variants.find((v) => v.tag === String(seg));
        if (variant) { cur = variant.schema; continue; }
      }
      out.push(String(seg));
      if (s && s.properties && s.properties[seg]) cur = s.properties[seg];
      else if (s && s.type === "array") cur = Array.isArray(s.prefixItems) ? s.prefixItems[Number(seg)] : s.items;
      else cur = null;
    }
    return out;
  }

  // --- the form object -----------------------------------------------------------------------

  function createRunForm(container, schema, defaults, generalBox) {
    const ctx = { resolve: makeResolver(schema) };
    let root = null;

    function render(values) {
      root = buildObject(ctx, ctx.resolve(schema), "", "", values || {}, { root: true });
      container.replaceChildren(root.el);
    }

    function clearErrors() {
      container.querySelectorAll(".field-error").forEach((el) => { el.textContent = ""; });
      container.querySelectorAll(".has-error").forEach((el) => el.classList.remove("has-error"));
      generalBox.replaceChildren();
      generalBox.hidden = true;
    }

    function findField(path) {
      for (const el of container.querySelectorAll("[data-field]")) if (el.dataset.field === path) return el;
      return null;
    }

    function showGeneral(messages) {
      generalBox.replaceChildren(messages.length === 1 ? messages[0]
        : h("ul", {}, messages.map((m) => h("li", { text: m }))));
      generalBox.hidden = false;
    }

    // detail: FastAPI's list of {loc, msg, type}, or a plain string.
    function showErrors(detail) {
      clearErrors();
      const general = [];
      let first = null;
      const items = Array.isArray(detail) ? detail : [{ loc: [], msg: String(detail || "Request failed") }];
      for (const item of items) {
        const msg = item && item.msg ? String(item.msg).replace(/^Value error, /, "") : String(item);
        const path = locToPath(schema, ctx.resolve, item && item.loc);
        let field = null;
        let rest = [];
        for (let n = path.length; n > 0 && !field; n -= 1) {
          field = findField(path.slice(0, n).join("."));
          rest = path.slice(n);
        }
        const errorEl = field && field.dataset.field !== "" ? field.querySelector(":scope > .field-error") : null;
        if (!errorEl) {
          general.push(path.length ? `${path.join(".")}: ${msg}` : msg);
          continue;
        }
        const where = rest.map((seg) => (/^\d+$/.test(seg) ? `item ${Number(seg) + 1}` : seg)).join(".");
        const text = where ? `${where}: ${msg}` : msg;
        errorEl.textContent = errorEl.textContent ? `${errorEl.textContent}; ${text}` : text;
        field.classList.add("has-error");
        if (!first) first = field;
      }
      if (general.length) showGeneral(general);
      const target = first || (general.length ? generalBox : null);
      if (target) {
        target.scrollIntoView({ block: "center", behavior: "smooth" });
        const input = first && first.querySelector("[data-path]");
        if (input) input.focus({ preventScroll: true });
      }
    }

    render(defaults);
    return {
      collect: () => root.get(),
      reset: () => { render(defaults); clearErrors(); },
      load: (values) => { render(values); clearErrors(); },
      showErrors,
      showGeneral: (message) => { clearErrors(); showGeneral([message]); },
      clearErrors,
    };
  }

  // --- prefilling from another run, and what differs from it --------------------------------

  // {"optimizer.lr": "0.001", ...}: leaves of a config as JSON text (lists are one leaf).
  function flatten(value, prefix, out) {
    out = out || {};
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
    } else if (prefix) {
      out[prefix] = JSON.stringify(value);
    }
    return out;
  }

  // Mark each field whose value differs from `base`; returns the changed paths.
  function highlightChanges(container, current, base) {
    const now = flatten(current);
    const before = flatten(base);
    const changed = Object.keys(now).filter((path) => now[path] !== before[path]);
    const set = new Set(changed);
    container.querySelectorAll("[data-field]").forEach((el) => {
      el.classList.toggle("changed", set.has(el.dataset.field));
    });
    return changed;
  }

  // "optimizer.lr = 0.01, 0.001" lines → {"optimizer.lr": [0.01, 0.001]}.
  function parseSweep(text) {
    const grid = {};
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      const [path, values] = line.split("=", 2).map((part) => (part || "").trim());
      if (!path || values === undefined || values === "") throw new Error(`sweep line "${line.trim()}": write "path = value, value"`);
      grid[path] = values.split(",").map((v) => v.trim()).filter(Boolean).map((v) => {
        if (v === "true" || v === "false") return v === "true";
        return v !== "" && Number.isFinite(Number(v)) ? Number(v) : v;
      });
    }
    return grid;
  }

  // 422 locs of /fork and /sweeps carry "overrides" or "config" before the config path.
  function unwrapLocs(detail) {
    if (!Array.isArray(detail)) return detail;
    return detail.map((item) => {
      const loc = Array.isArray(item.loc) ? item.loc.slice() : [];
      if (loc[0] === "body" && (loc[1] === "overrides" || loc[1] === "config")) loc.splice(1, 1);
      return { ...item, loc };
    });
  }

  // --- wiring on the home page ----------------------------------------------------------------

  function readJson(id) {
    const el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  async function loadSource(form, fields) {
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
    document.getElementById("form-title").textContent = source.fork
      ? `Fork run #${run.id} from epoch ${source.epoch}` : `Run #${run.id} again`;
    document.getElementById("start-button").textContent = source.fork ? "Start fork" : "Start";
    document.getElementById("new-run").classList.add("prefilled");
    document.getElementById("new-run").scrollIntoView({ block: "start" });
    if (source.fork) document.getElementById("sweep-details").hidden = true;
    return source;
  }

  function init() {
    const formEl = document.getElementById("run-form");
    if (!formEl) return;
    const fields = document.getElementById("form-fields");
    const errorBox = document.getElementById("form-error");
    const start = document.getElementById("start-button");
    const sourceNote = document.getElementById("form-source");
    const sweepText = document.getElementById("sweep-grid");
    let form;
    try {
      form = createRunForm(fields, readJson("run-config-schema"), readJson("default-run-config") || {}, errorBox);
    } catch (err) {
      errorBox.textContent = "Could not build the form: " + err.message;
      errorBox.hidden = false;
      start.disabled = true;
      return;
    }
    window.torchdashForm = form;
    let source = null;
    const startLabel = () => (source && source.fork ? "Start fork" : "Start");

    function showChanges() {
      if (!source) return;
      const changed = highlightChanges(fields, form.collect(), source.run.config);
      const what = source.fork ? `fork of run #${source.run.id} at epoch ${source.epoch}` : `copy of run #${source.run.id}`;
      sourceNote.replaceChildren(
        `A ${what} (`, Object.assign(document.createElement("a"), { href: `/runs/${source.run.id}`, textContent: source.run.name }), "): ",
        changed.length ? `${changed.length} change${changed.length > 1 ? "s" : ""}, highlighted: ${changed.join(", ")}` : "no changes yet.",
      );
      sourceNote.hidden = false;
    }
    fields.addEventListener("input", showChanges);
    fields.addEventListener("change", showChanges);
    loadSource(form, fields).then((loaded) => { source = loaded; showChanges(); })
      .catch((err) => form.showGeneral(err.message));

    document.getElementById("reset-button").addEventListener("click", () => {
      if (source) { form.load(source.run.config); form.clearErrors(); showChanges(); } else form.reset();
    });

    async function send() {
      const config = form.collect();
      if (source && source.fork) {
        const overrides = { ...config };
        if (overrides.name === source.run.config.name) delete overrides.name;  // server names forks
        return { url: `/api/runs/${source.run.id}/fork`, body: { epoch: source.epoch, overrides } };
      }
      const grid = parseSweep(sweepText.value);
      if (Object.keys(grid).length) return { url: "/api/sweeps", body: { config, grid }, sweep: true };
      return { url: "/api/runs", body: config };
    }

    formEl.addEventListener("submit", async (event) => {
      event.preventDefault();
      form.clearErrors();
      start.disabled = true;
      start.textContent = "Starting…";
      let keepDisabled = false;
      try {
        const request = await send();
        const response = await fetch(request.url, {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(request.body),
        });
        const body = await response.json().catch(() => null);
        if (response.status === 201 && request.sweep) {
          keepDisabled = true;
          location.href = `/?q=${encodeURIComponent(body.group_name)}`;
        } else if (response.status === 201 || (response.ok && body && body.id !== undefined)) {
          keepDisabled = true;
          location.href = `/runs/${body.id}`;
        } else if (response.status === 422 && body && body.detail !== undefined) {
          form.showErrors(unwrapLocs(body.detail));
        } else {
          const detail = body && body.detail !== undefined ? body.detail : response.statusText;
          form.showErrors(typeof detail === "string" ? `Error ${response.status}: ${detail}` : detail);
        }
      } catch (err) {
        form.showGeneral(err.message.startsWith("sweep") ? err.message : "Could not reach the server: " + err.message);
      } finally {
        if (!keepDisabled) {
          start.disabled = false;
          start.textContent = startLabel();
        }
      }
    });
  }

  window.TorchdashForm = { createRunForm, locToPath, makeResolver, flatten, parseSweep };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
