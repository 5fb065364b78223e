// Small DOM helpers shared by every page script (loaded first, from base.html).
(() => {
  "use strict";

  /** document.getElementById, shorter. */
  const $ = (id) => document.getElementById(id);

  /**
   * Build an element: h("td", {class: "num", text: "3"}, child, ...). Attributes that are null,
   * undefined or false are left out; true sets a boolean attribute; `dataset` fills data-*.
   */
  function h(tag, attrs, ...children) {
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

  window.dom = { $, h };
})();
