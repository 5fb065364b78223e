/* A table's target column(s) or a text file's label column(s), as one text box: `species` names one column (a string in the
 * config), `a, b` several (a list: multi-label 0/1 columns, or several regression targets). The
 * schema hints the field `"ui": {"widget": "columns"}` (trainer/config/data.py). */

import { h } from "../shared/dom.js";
import { fieldId, fieldShell, humanize } from "./widgets.js";
import { registerWidget } from "./widget_registry.js";

function buildColumns(ctx, schema, path, key, value, required) {
  const input = h("input", { type: "text", id: fieldId(path), dataset: { path }, autocomplete: "off", spellcheck: "false" });
  if (Array.isArray(value)) input.value = value.join(", ");
  else if (typeof value === "string") input.value = value;
  const help = `${schema.description || ""} One column, or several separated by commas.`.trim();
  return {
    el: fieldShell(path, humanize(key), input, help, { required }),
    get: () => {
      const names = input.value.split(",").map((t) => t.trim()).filter(Boolean);
      return names.length === 1 ? names[0] : names;
    },
  };
}

registerWidget("columns", buildColumns);
