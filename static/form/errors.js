/* Server errors shown in the form: a FastAPI 422's `loc` is mapped to the config path of the
 * field it names (skipping "body" and the union tags pydantic puts in it), and the message is
 * written into that field's error slot; errors that match no field go to the general box. */

import { h } from "../shared/dom.js";
import { isNullSchema, unionInfo } from "./schema.js";

/** FastAPI loc → config path segments. */
export function locToPath(rootSchema, resolve, loc) {
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

/** 422 locs of /fork and /sweeps carry "overrides" or "config" before the config path. */
export function unwrapLocs(detail) {
  if (!Array.isArray(detail)) return detail;
  return detail.map((item) => {
    const loc = Array.isArray(item.loc) ? item.loc.slice() : [];
    if (loc[0] === "body" && (loc[1] === "overrides" || loc[1] === "config")) loc.splice(1, 1);
    return { ...item, loc };
  });
}

/** Error display for the form's fields in `container`: {clear, showGeneral, show}. */
export function createErrorView(container, generalBox, schema, resolve) {
  function clear() {
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
  function show(detail) {
    clear();
    const general = [];
    let first = null;
    const items = Array.isArray(detail) ? detail : [{ loc: [], msg: String(detail || "Request failed") }];
    for (const item of items) {
      const msg = item && item.msg ? String(item.msg).replace(/^Value error, /, "") : String(item);
      const path = locToPath(schema, resolve, item && item.loc);
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
      // A field in a collapsed section is opened, so the message is seen.
      for (let d = field.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) d.open = true;
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

  return { clear, showGeneral, show };
}
