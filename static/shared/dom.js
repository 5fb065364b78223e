/* DOM helpers shared by every page: `$` finds an element by id, `h` builds one with its
 * attributes and children in a single call, and `setText` changes an element's text only when
 * it differs. */

/** document.getElementById, shorter. */
export const $ = (id) => document.getElementById(id);

/**
 * Build an element: h("td", {class: "num", text: "3"}, child, ...). Attributes that are null,
 * undefined or false are left out; true sets a boolean attribute; `dataset` fills data-*.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Set an element's text only when it changes (keeps a text selection in place). */
export function setText(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}
