// Dashboard: the program report's KPIs for a range (one GET /v1/reports/program), and its figures per day as charts.
import { dailyChart } from "../chart.js";
import { act, button, clear, empty, field, h, input, isoDate, loading, money, num, percent } from "../ui.js";

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

    async function load() {
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
          : empty("No members yet."));
    }
    await load();
  },
};
