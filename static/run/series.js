/* The run page's chart data: columnar series in uPlot's layout ([xs, ys1, ys2, ...]) that only
 * grow at the end, and the smoothed train-loss column drawn over the raw per-step losses. */

/** Series with `columns` (x first). A row at or before the last x (a resumed run redoing an
 * epoch, or a replayed event) replaces the tail instead of breaking x order. */
export function makeSeries(columns) {
  const data = columns.map(() => []);
  return {
    data,
    last: () => (data[0].length ? data[0][data[0].length - 1] : null),
    push(x, values) {
      const xs = data[0];
      if (xs.length && x <= xs[xs.length - 1]) {
        let keep = xs.length;
        while (keep > 0 && xs[keep - 1] >= x) keep -= 1;
        data.forEach((col) => { col.length = keep; });
      }
      xs.push(x);
      values.forEach((v, i) => data[i + 1].push(v === undefined ? null : v));
    },
    clear() { data.forEach((col) => { col.length = 0; }); },
  };
}

/** Fill the step series' `smoothed` column from its `loss` column: a debiased exponential
 * moving average, as TensorBoard draws it, with `weight` in [0, 1). */
export function smooth(steps, weight) {
  const [, losses, smoothed] = steps.data;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < losses.length; i += 1) {
    const loss = losses[i];
    if (loss === null || !Number.isFinite(loss)) { smoothed[i] = null; continue; }
    sum = weight * sum + (1 - weight) * loss;
    count += 1;
    smoothed[i] = weight === 0 ? loss : sum / (1 - weight ** count);
  }
}
