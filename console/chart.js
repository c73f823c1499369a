// Charts per day with uPlot (vendored, pinned in package-lock.json), each with its figures as a table for
// screen readers and keyboards (a <details> under the chart).
import uPlot from "./vendor/uPlot.esm.js";
import { h, num, table } from "./ui.js";

const COLORS = ["#1f5fa8", "#b3541e", "#2e7d32", "#6a1b9a"];

/** days: ["YYYY-MM-DD"...]; series: [{label, values: [n...]}]. */
export function dailyChart(title, days, series, { id } = {}) {
  const figure = h("figure", { class: "chart", id });
  const plot = h("div", { class: "plot", role: "img", "aria-label": `${title}, per day` });
  figure.append(h("figcaption", { text: title }), plot);
  const rows = days.map((day, i) => h("tr", {}, h("th", { scope: "row", text: day }), series.map((s) => h("td", { text: num(s.values[i]) }))));
  figure.append(h("details", {}, h("summary", { text: `${title}: the figures` }), table(["Day", ...series.map((s) => s.label)], rows)));
  const x = days.map((day) => Date.parse(`${day}T00:00:00Z`) / 1000);
  const draw = () => {
    const width = Math.max(240, plot.clientWidth || 480);
    plot.replaceChildren();
    new uPlot({
      width, height: 200, tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      // one day alone: a day either side, so the axis reads as days rather than a span of years
      scales: { x: x.length === 1 ? { time: true, range: () => [x[0] - 86400, x[0] + 86400] } : { time: true } },
      series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2 }))],
      axes: [{}, { size: 60 }],
    }, [x, ...series.map((s) => s.values)], plot);
  };
  requestAnimationFrame(draw);
  return figure;
}
