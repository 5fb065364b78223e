/* torchdash: the compare page. Overlays the epoch curves of several runs on one x axis (epoch);
 * a forked run's line starts at its parent's value at the fork epoch. Below: best metrics and
 * the config fields that differ. Re-fetched every 3 s while any run still trains. */
(function () {
  "use strict";

  const page = document.getElementById("compare-page");
  if (!page) return;
  const { $, h } = window.dom;
  const runIds = JSON.parse($("compare-run-ids").textContent);
  const COLORS = ["#2563eb", "#f97316", "#16a34a", "#dc2626", "#7c3aed", "#0891b2", "#ca8a04", "#db2777"];
  const METRICS = ["val_loss", "val_accuracy", "train_loss", "train_accuracy"];
  const ACTIVE = new Set(["queued", "running"]);


  async function getJson(url) {
    const response = await fetch(url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return response.json();
  }

  function flatten(value, prefix, out) {
    out = out || {};
    if (value && typeof value === "object" && !Array.isArray(value)) {
      for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
    } else if (prefix) {
      out[prefix] = JSON.stringify(value);
    }
    return out;
  }

  const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
  const num = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(4));

  // {run, epochs}: epochs include the parent's row at the fork point for a forked run.
  async function load(id) {
    const [run, metrics] = await Promise.all([getJson(`/api/runs/${id}`), getJson(`/api/runs/${id}/metrics?max_points=3`)]);
    let rows = metrics.epochs;
    if (run.parent_run_id !== null && run.fork_epoch !== null) {
      try {
        const parent = await getJson(`/api/runs/${run.parent_run_id}/metrics?since_epoch=${run.fork_epoch - 1}&max_points=3`);
        const origin = parent.epochs.find((r) => r.epoch === run.fork_epoch);
        if (origin) rows = [origin, ...rows.filter((r) => r.epoch > run.fork_epoch)];
      } catch (err) { /* the parent was deleted: draw the fork from its own first epoch */ }
    }
    return { run, epochs: rows };
  }

  const charts = {};
  function draw(loaded) {
    const xs = [...new Set(loaded.flatMap((l) => l.epochs.map((r) => r.epoch)))].sort((a, b) => a - b);
    for (const metric of METRICS) {
      const data = [xs, ...loaded.map((l) => {
        const byEpoch = new Map(l.epochs.map((r) => [r.epoch, r[metric]]));
        return xs.map((x) => (byEpoch.has(x) ? byEpoch.get(x) : null));
      })];
      const el = $(`chart-${metric}`);
      const accuracy = metric.endsWith("accuracy");
      const fmt = (u, v) => (v === null || v === undefined ? "–" : accuracy ? pct(v) : v.toFixed(4));
      const seriesCount = loaded.length + 1;
      if (charts[metric] && charts[metric].series.length === seriesCount) {
        charts[metric].setData(data);
        continue;
      }
      if (charts[metric]) charts[metric].destroy();
      charts[metric] = new uPlot({
        width: Math.max(320, el.clientWidth || 480),
        height: 260,
        scales: { x: { time: false } },
        series: [
          { label: "epoch", value: (u, v) => (v === null || v === undefined ? "–" : String(v)) },
          ...loaded.map((l, i) => ({ label: `#${l.run.id} ${l.run.name}`, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true, value: fmt, points: { show: true, size: 4 } })),
        ],
        axes: [{ label: "epoch", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, { label: metric.replace("_", " ") }],
      }, data, el);
    }
    window.torchdashCompare = { runs: loaded.map((l) => l.run.id), points: (metric) => charts[metric].data.slice(1).map((s) => s.filter((v) => v !== null).length) };
  }

  function renderBest(loaded) {
    const header = h("tr", {}, ["run", "status", "epochs", "best val acc", "at epoch", "lowest val loss", "forked from"].map((t) => h("th", { text: t })));
    const rows = loaded.map((l, i) => {
      const own = l.epochs.filter((r) => !(l.run.fork_epoch !== null && r.epoch <= l.run.fork_epoch));
      const best = own.reduce((a, r) => (a === null || r.val_accuracy > a.val_accuracy ? r : a), null);
      const lowest = own.reduce((a, r) => (a === null || r.val_loss < a.val_loss ? r : a), null);
      return h("tr", { "data-run-id": l.run.id },
        h("td", {}, h("span", { class: "swatch", style: `background:${COLORS[i % COLORS.length]}` }), h("a", { href: `/runs/${l.run.id}`, text: `#${l.run.id} ${l.run.name}` })),
        h("td", {}, h("span", { class: `badge status-${l.run.status}`, text: l.run.status })),
        h("td", { text: `${l.run.epoch}/${l.run.max_epochs}` }),
        h("td", { class: "num best-acc", text: pct(best && best.val_accuracy) }),
        h("td", { class: "num", text: best ? String(best.epoch) : "–" }),
        h("td", { class: "num", text: num(lowest && lowest.val_loss) }),
        h("td", { text: l.run.parent_run_id !== null ? `#${l.run.parent_run_id} at epoch ${l.run.fork_epoch}` : "–" }),
      );
    });
    $("best-table").replaceChildren(h("thead", {}, header), h("tbody", {}, rows));
  }

  function renderDiff(loaded) {
    const flats = loaded.map((l) => flatten(l.run.config));
    const keys = [...new Set(flats.flatMap(Object.keys))].sort();
    const differing = keys.filter((k) => new Set(flats.map((f) => f[k])).size > 1);
    $("diff-note").textContent = differing.length
      ? `${differing.length} of ${keys.length} config fields differ.` : "The configs are identical.";
    const header = h("tr", {}, h("th", { text: "field" }), loaded.map((l) => h("th", { text: `#${l.run.id}` })));
    const rows = differing.map((k) => h("tr", { "data-field": k }, h("td", { class: "field-name", text: k }),
      flats.map((f) => h("td", { class: "differs", text: f[k] === undefined ? "–" : f[k] }))));
    $("diff-table").replaceChildren(h("thead", {}, header), h("tbody", {}, rows));
  }

  async function refresh() {
    try {
      const loaded = await Promise.all(runIds.map(load));
      draw(loaded);
      renderBest(loaded);
      renderDiff(loaded);
      if (loaded.some((l) => ACTIVE.has(l.run.status))) setTimeout(refresh, 3000);
    } catch (err) {
      $("compare-error").textContent = `Could not load the runs: ${err.message}`;
      $("compare-error").hidden = false;
    }
  }

  if (runIds.length < 2) {
    $("compare-error").textContent = "Select at least two runs in the runs list to compare them.";
    $("compare-error").hidden = false;
  } else {
    refresh();
  }
})();
