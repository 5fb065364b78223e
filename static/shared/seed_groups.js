/* Seed groups: runs of one group whose configs are the same but for the seed (and the name) —
 * a run repeated with k seeds, or one combination of a sweep or a study trial with several
 * seeds. The compare and study pages draw such a set as its mean with a ± std band, per epoch
 * over the runs that reached it, and list mean ± std in their tables. */

/** A config without the fields that may differ inside a seed group, as text to compare. */
function sameButSeed(config) {
  const rest = { ...(config || {}) };
  delete rest.seed;
  delete rest.name;
  return JSON.stringify(rest, Object.keys(rest).sort());
}

/** The seed groups among `items` ([{run, ...}]), each {name, key, items} with two runs or
 * more, in the order their first run appears; `rest`: the items in no seed group. */
export function seedGroups(items) {
  const byKey = new Map();
  for (const item of items) {
    if (!item.run.group_name) continue;
    const key = `${item.run.group_name}\u0000${sameButSeed(item.run.config)}`;
    if (!byKey.has(key)) byKey.set(key, []);
    byKey.get(key).push(item);
  }
  const groups = [...byKey.entries()].filter(([, members]) => members.length > 1)
    .map(([key, members]) => ({ key, name: members[0].run.group_name, items: members }));
  const grouped = new Set(groups.flatMap((g) => g.items));
  return { groups, rest: items.filter((item) => !grouped.has(item)) };
}

/** {mean, std, n} of the finite numbers in `values` (sample std, n − 1; 0 for one value);
 * null when there are none. */
export function meanStd(values) {
  const xs = values.filter((v) => v !== null && v !== undefined && Number.isFinite(v));
  if (!xs.length) return null;
  const mean = xs.reduce((a, v) => a + v, 0) / xs.length;
  const variance = xs.length > 1 ? xs.reduce((a, v) => a + (v - mean) ** 2, 0) / (xs.length - 1) : 0;
  return { mean, std: Math.sqrt(variance), n: xs.length };
}

/** "0.4120 ± 0.0130" with `fmt` for both parts; "–" when `stats` is null. */
export function fmtMeanStd(stats, fmt) {
  if (!stats) return "–";
  return `${fmt(stats.mean)} ± ${fmt(stats.std)}`;
}
