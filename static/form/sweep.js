/* The sweep box under the form: "path = value, value" lines, one per config field, parsed
 * into the grid that POST /api/sweeps expands into one run per combination. */

/** "optimizer.lr = 0.01, 0.001" lines → {"optimizer.lr": [0.01, 0.001]}. Numbers and
 * true/false become JSON values; anything else stays a string. Throws on a malformed line. */
export function parseSweep(text) {
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
