// Charts per day or per month with uPlot (vendored, pinned in package-lock.json), each with its figures as a
// table for screen readers and keyboards (a <details> under the chart).
import uPlot from "./vendor/uPlot.esm.js";
import { h, num, table } from "./ui.js";

const COLORS = ["#1f5fa8", "#b3541e", "#2e7d32", "#6a1b9a"];
const DAY = 86400;
const DAY_STEPS = [DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 91 * DAY, 182 * DAY, 364 * DAY];  // ticks on whole days only
const PERIODS = {
  day: { heading: "Day", per: "per day", at: (key) => Date.parse(`${key}T00:00:00Z`) / 1000, pad: DAY },
  month: { heading: "Month", per: "per month" },
};

/**
 * keys: ["YYYY-MM-DD"...] (period "day") or ["YYYY-MM"...] (period "month"); series: [{label, values: [n...],
 * format?: (n) => text for the table, plot?: false for a column shown in the table only}].
 */
export function timeChart(title, keys, series, { id, period = "day" } = {}) {
  const { heading, per, at, pad } = PERIODS[period];
  const figure = h("figure", { class: "chart", id });
  const plot = h("div", { class: "plot", role: "img", "aria-label": `${title}, ${per}` });
  figure.append(h("figcaption", { text: title }), plot);
  const rows = keys.map((key, i) => h("tr", { "data-key": key }, h("th", { scope: "row", text: key }),
    series.map((s) => h("td", { class: "n", "data-series": s.label, text: (s.format || num)(s.values[i]) }))));
  figure.append(h("details", {}, h("summary", { text: `${title}: the figures` }), table([heading, ...series.map((s) => s.label)], rows)));
  const plotted = series.filter((s) => s.plot !== false);
  const monthly = period === "month";
  // days on a time axis, as lines; months as bars on an axis of their labels (a month's figure is its end's)
  const x = monthly ? keys.map((_, i) => i) : keys.map(at);
  const xScale = monthly ? { time: false, range: () => [-0.5, keys.length - 0.5] }
    : x.length === 1 ? { time: true, range: () => [x[0] - pad, x[0] + pad] } : { time: true };
  const xAxis = monthly ? { splits: () => x, values: (u, splits) => splits.map((i) => keys[i] ?? "") } : { incrs: DAY_STEPS };
  let drawn = 0;
  const draw = () => {
    if (!plot.isConnected) return;  // the screen moved on before the frame
    const width = Math.max(240, plot.clientWidth || 480);
    if (width === drawn) return;
    drawn = width;
    plot.replaceChildren();
    new uPlot({
      width, height: 200, tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      // bars stand on zero (a bar's height is its figure)
      scales: monthly ? { x: xScale, y: { range: (u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] } } : { x: xScale },
      series: [monthly ? { label: heading, value: (u, i) => keys[i] ?? "--" } : {},
        ...plotted.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2,
          ...(monthly ? { fill: `${COLORS[i % COLORS.length]}99`, paths: uPlot.paths.bars({ size: [0.6, 80] }), points: { show: false } }
            : { points: { show: x.length <= 31 } }) }))],
      axes: [xAxis, { size: 70 }],
    }, [x, ...plotted.map((s) => s.values)], plot);
  };
  requestAnimationFrame(draw);
  // drawn again at its new width when the window (a tablet turned, a laptop's window resized) changes it
  if (window.ResizeObserver) new ResizeObserver(() => requestAnimationFrame(draw)).observe(plot);
  return figure;
}

/** days: ["YYYY-MM-DD"...]; series: [{label, values: [n...]}]. */
export function dailyChart(title, days, series, options = {}) {
  return timeChart(title, days, series, { ...options, period: "day" });
}
