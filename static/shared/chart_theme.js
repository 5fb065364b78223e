/* uPlot charts in the page's theme: axis text and grid lines take their colours from the CSS
 * variables --chart-axis and --chart-grid at every draw, so a chart is readable in the light
 * and the dark theme alike and follows a switch between them (static/shared/theme.js). */

import { attachDataTable } from "./chart_table.js";

const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const axisColor = () => cssVar("--chart-axis") || "#1f2328";
const gridColor = () => cssVar("--chart-grid") || "rgba(0,0,0,0.07)";

const plots = new Set();  // every live chart, redrawn when the theme changes

function themedAxis(axis) {
  return {
    stroke: axisColor,
    ...axis,
    grid: { stroke: gridColor, width: 1, ...(axis.grid || {}) },
    ticks: { stroke: gridColor, width: 1, ...(axis.ticks || {}) },
  };
}

/** uPlot options `opts` with themed axes (an x and a y axis when it names none) and a data
 * table under the chart. */
export function themed(opts) {
  const hooks = opts.hooks || {};
  return {
    ...opts,
    axes: (opts.axes || [{}, {}]).map(themedAxis),
    hooks: {
      ...hooks,
      // The chart's data table (chart_table.js) comes and goes with the chart.
      ready: [...(hooks.ready || []), (u) => { plots.add(u); u.dataTable = attachDataTable(u); }],
      setData: [...(hooks.setData || []), (u) => { if (u.dataTable) u.dataTable.refresh(); }],
      destroy: [...(hooks.destroy || []), (u) => { plots.delete(u); if (u.dataTable) u.dataTable.remove(); }],
    },
  };
}

window.addEventListener("torchdash:theme", () => plots.forEach((u) => u.redraw(false, true)));
