// Dashboard: the program report's KPIs for a range (one GET /v1/reports/program), its figures per day as charts,
// and two insights of the analytics store for the same range (one query each, read until it is done): liability
// at the end of each month, and the retention cohort heat map.
import { dailyChart, timeChart } from "../chart.js";
import { runInsight } from "../insights.js";
import { act, button, clear, empty, field, h, input, isoDate, loading, money, num, percent, showError } from "../ui.js";

const KPIS = [
  ["enrollments", "Enrolments", num], ["active_members", "Active members", num], ["purchases", "Purchases", num],
  ["revenue_minor", "Revenue", "money"], ["points_issued", "Points issued", num], ["points_redeemed", "Points redeemed", num],
  ["points_expired", "Points expired", num], ["redemption_rate", "Redemption rate", percent],
  ["repeat_purchase_rate", "Repeat purchase rate", percent], ["outstanding_points", "Outstanding points", num],
  ["outstanding_liability_minor", "Outstanding liability", "money"],
];

function kpis(report, currency) {
  return h("dl", { class: "kpis" }, KPIS.map(([key, label, format]) => h("div", { class: "kpi" },
    h("dt", { text: label }),
    h("dd", { "data-kpi": key, "data-value": String(report[key] ?? ""), text: format === "money" ? money(report[key], currency) : format(report[key]) }))));
}

/** A share (0..1) as one of six colour steps: the colour is an aid, the figure is written in the cell. */
function step(share) {
  return share === null || share === undefined ? "none" : String(Math.min(5, Math.ceil(share * 5)));
}

/** retention_cohorts' answer as a table: a row per enrolment month, a column per month since, the share written. */
export function heatmap(result) {
  const width = Math.max(0, ...result.cohorts.map((c) => c.months.length));
  const headers = ["Enrolled", "Members", ...Array.from({ length: width }, (_, k) => `Month ${k}`)];
  return h("div", { class: "table-scroll", role: "region", "aria-labelledby": "retention-title", tabindex: "0" },
    h("table", { class: "heatmap", id: "retention-table" },
      h("caption", { text: "Share of each enrolment month's members who bought, by months since enrolment (month 0: the month they enrolled)" }),
      h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col", text })))),
      h("tbody", {}, result.cohorts.map((cohort) => h("tr", { "data-cohort": cohort.cohort },
        h("th", { scope: "row", text: cohort.cohort }),
        h("td", { class: "n", "data-members": String(cohort.members), text: num(cohort.members) }),
        Array.from({ length: width }, (_, k) => {
          const month = cohort.months[k];
          if (!month) return h("td", { class: "heat-none" }, h("span", { class: "visually-hidden", text: "not reached yet" }));
          return h("td", { class: `n heat-${step(month.share)}`, "data-month": String(k), "data-buyers": String(month.buyers),
            "data-share": String(month.share ?? "") },
          h("span", { class: "share", text: percent(month.share) }), h("span", { class: "buyers", text: `${num(month.buyers)} of ${num(cohort.members)}` }));
        }))))),
    h("p", { class: "hint legend", text: "Darker cells: a larger share. Each cell says its share and how many of the cohort bought." }));
}

/** One insight's panel: its own loading state, its answer, or its error beside it. */
function insightPanel(api, id, title, insight, params, render, current) {
  const body = h("div", { class: "insight-body" }, loading(`Running the ${title.toLowerCase()} query…`));
  const panel = h("section", { class: "insight", id, "aria-labelledby": `${id}-title` }, h("h3", { id: `${id}-title`, text: title }), body);
  runInsight(api, insight, params, {
    wanted: () => current() && panel.isConnected,
    onRunning: () => clear(body, loading(`The ${title.toLowerCase()} query is running…`)),
  }).then((query) => {
    if (!query || !panel.isConnected) return;
    panel.dataset.queryId = query.query_id;
    clear(body, render(query.result));
  }).catch((error) => {
    if (!panel.isConnected) return;
    clear(body);
    showError(body, error);
  });
  return panel;
}

function liability(result, currency) {
  const months = result.months.map((m) => m.month);
  return timeChart("Outstanding points at the end of each month", months, [
    { label: "Outstanding points", values: result.months.map((m) => m.outstanding_points) },
    { label: "Value", values: result.months.map((m) => m.value_minor), format: (v) => money(v, currency), plot: false }],
  { id: "chart-liability", period: "month" });
}

export default {
  id: "dashboard",
  title: "Dashboard",
  async render({ api, program }, root) {
    const today = new Date();
    const from = input({ type: "date", name: "from", value: isoDate(new Date(today.getTime() - 29 * 86400000)) });
    const to = input({ type: "date", name: "to", value: isoDate(today) });
    const show = button("Show", () => load(), { class: "primary" });
    const form = h("form", { class: "inline", "aria-label": "Report range", onsubmit: (e) => { e.preventDefault(); load(); } },
      field("From", from, { name: "from" }), field("To", to, { name: "to" }), show);
    const results = h("div", { class: "results" });
    clear(root, form, results);

    let generation = 0;  // a new range supersedes the queries of the previous one
    async function load() {
      const mine = ++generation;
      clear(results, loading("Loading the report…"));
      const currency = (await program()).currency;
      const report = await act(form, () => api.get("/v1/reports/program", { from: from.value, to: to.value }), { control: show });
      if (!report) { clear(results); return; }
      const days = report.daily.map((d) => d.date);
      const tiers = Object.entries(report.tier_distribution || {});
      clear(results,
        h("h2", { text: `${report.from} to ${report.to} (${report.time_zone})` }),
        kpis(report, currency),
        days.length === 0 ? empty("No activity in this range.") : h("div", { class: "charts" },
          dailyChart("Enrolments", days, [{ label: "Enrolments", values: report.daily.map((d) => d.enrollments) }], { id: "chart-enrollments" }),
          dailyChart("Purchases", days, [{ label: "Purchases", values: report.daily.map((d) => d.purchases) }], { id: "chart-purchases" }),
          dailyChart("Points issued and redeemed", days, [
            { label: "Issued", values: report.daily.map((d) => d.points_issued) },
            { label: "Redeemed", values: report.daily.map((d) => d.points_redeemed) }], { id: "chart-points" })),
        h("h2", { text: "Members per tier (now)" }),
        tiers.length ? h("ul", { class: "tiers" }, tiers.map(([tier, count]) => h("li", { "data-tier": tier, text: `${tier}: ${num(count)}` })))
          : empty("No members yet."),
        h("h2", { text: "Per month, from the analytics store" }),
        h("p", { class: "hint", text: "Insights read the store of events, which follows the API by a few seconds (minutes in AWS)." }),
        h("div", { class: "insights" },
          insightPanel(api, "liability", "Liability per month", "liability", { from: report.from, to: report.to },
            (result) => liability(result, currency), () => mine === generation),
          insightPanel(api, "retention", "Retention by enrolment month", "retention_cohorts", { from: report.from, to: report.to },
            (result) => (result.cohorts.length ? heatmap(result) : empty("Nobody enrolled in this range.")), () => mine === generation)));
    }
    await load();
  },
};
