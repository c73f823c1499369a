// Campaigns: the list by status; a form editor for a draft (conditions, effect, limits, what it applies to, the
// audience from the segments, activation, holdout) with a JSON view of the document it sends; preview on a sample basket; backtest on a past range; activate; end.
// Counters on each campaign; the lift of an ended one (the campaign_lift insight).
import { timeChart } from "../chart.js";
import { runInsight, settle } from "../insights.js";
import { ConditionRows, flat, list, MEMBER_FACTS, numberOrText, ORDER_FACTS } from "../conditions.js";
import { act, button, clear, empty, field, h, input, isoDate, loading, money, num, select, showError, table, toast, when } from "../ui.js";

const EFFECTS = [["multiply", "Multiply base points"], ["bonus", "Bonus points per purchase"], ["per_item", "Points per matching item"], ["per_amount", "Points per amount spent"]];

/** Who the campaign is for: checkboxes over the defined segments, to include (any of) and to exclude (none of). */
class AudiencePicker {
  constructor(segments, audience, editable, segmentsError) {
    const included = new Set(audience?.segments || []), excluded = new Set(audience?.exclude_segments || []);
    const known = new Map((segments || []).map((s) => [s.segment_id, s.name]));
    for (const id of [...included, ...excluded]) if (!known.has(id)) known.set(id, null);
    const boxes = (name, chosen) => [...known].map(([id, label]) => {
      const box = h("input", { type: "checkbox", name, value: id, checked: chosen.has(id), disabled: !editable });
      return h("label", {}, box, label === null ? `${id} (not defined)` : `${label} (${id})`);
    });
    const group = (legend, name, chosen) => h("fieldset", { class: "field segment-picks", "data-field": `audience.${name}`, id: `audience-${name}` },
      h("legend", { text: legend }), h("div", { class: "checks" }, boxes(name, chosen)));
    this.element = h("fieldset", { class: "field audience", "data-field": "audience", id: "audience" },
      h("legend", { text: "Audience" }),
      segmentsError ? h("div", { class: "error-box", role: "alert" }, h("strong", { class: "error-code", text: segmentsError.code }), " ",
        `the segments could not be listed: ${segmentsError.message}`) : null,
      known.size ? [group("Only members in any of these segments (none ticked: every member)", "segments", included),
        group("Never members in any of these segments", "exclude_segments", excluded)]
        : h("p", { class: "state empty", text: "No segments defined yet: the campaign is for every member. Define them on the Segments screen." }));
  }

  value() {
    const ticked = (name) => [...this.element.querySelectorAll(`input[name=${name}]:checked`)].map((box) => box.value);
    const segments = ticked("segments"), exclude = ticked("exclude_segments");
    return segments.length || exclude.length ? { segments, exclude_segments: exclude } : null;
  }
}

/** The form editor: state in, document out (what the JSON view shows and what is sent). */
class CampaignForm {
  constructor(doc, editable, segments = { items: [], error: null }) {
    this.extra = {};
    this.editable = editable;
    this.segments = segments;
    this.element = h("div", { class: "campaign-form" });
    this.load(doc);
  }

  load(doc) {
    const { campaign_id = "", name = "", description = "", starts_at = null, ends_at = null, priority = 100, exclusive_group = null,
      conditions = null, applies_to = null, effect = { type: "multiply", factor: "2" }, limits = [],
      audience = null, activation = "automatic", holdout_percent = 0, ...extra } = doc;
    for (const key of ["status", "created_at", "activated_at", "ended_at", "points_awarded", "times_applied"]) delete extra[key];
    this.extra = extra;  // what the form has no control for (a schedule) is kept and sent as it was
    const disabled = !this.editable;
    const c = this.controls = {
      campaign_id: input({ name: "campaign_id", value: campaign_id || "", disabled: disabled || Boolean(doc.status) }),
      name: input({ name: "name", value: name, disabled }), description: input({ name: "description", value: description, disabled }),
      starts_at: input({ name: "starts_at", value: starts_at || "", placeholder: "2026-12-01T00:00:00Z", disabled }),
      ends_at: input({ name: "ends_at", value: ends_at || "", placeholder: "empty: no end", disabled }),
      priority: input({ type: "number", name: "priority", value: String(priority), disabled }),
      exclusive_group: input({ name: "exclusive_group", value: exclusive_group || "", disabled }),
      categories: input({ name: "categories", value: (applies_to?.categories || []).join(", "), disabled }),
      skus: input({ name: "skus", value: (applies_to?.skus || []).join(", "), disabled }),
      effect_type: select(EFFECTS, { name: "effect_type", disabled }),
      factor: input({ name: "factor", value: effect.factor ?? "", disabled }),
      points: input({ type: "number", name: "points", value: effect.points ?? "", disabled }),
      unit_minor: input({ type: "number", name: "unit_minor", value: effect.unit_minor ?? "", disabled }),
      activation: select([["automatic", "Automatic: applies to everyone in the audience"], ["required", "Required: the member activates the offer first"]],
        { name: "activation", disabled }),
      holdout_percent: input({ type: "number", name: "holdout_percent", value: String(holdout_percent ?? 0), disabled }),
    };
    c.effect_type.value = effect.type;
    c.activation.value = activation || "automatic";
    if (!flat(conditions)) this.extra.conditions = conditions;  // nested groups: edited in the JSON view
    this.conditions = new ConditionRows({ facts: [...ORDER_FACTS, ...MEMBER_FACTS], editable: this.editable });
    if (!this.extra.conditions) this.conditions.load(conditions);
    this.audience = new AudiencePicker(this.segments.items, audience, this.editable, this.segments.error);
    this.limitRows = h("tbody", {});
    for (const limit of limits) this.addLimit(limit);
    const effectFields = h("div", { class: "effect-fields" });
    const showEffect = () => {
      const type = c.effect_type.value;
      clear(effectFields,
        type === "multiply" ? field("Factor (e.g. 2 for double)", c.factor, { name: "effect.factor" }) : null,
        type !== "multiply" ? field("Points", c.points, { name: "effect.points" }) : null,
        type === "per_amount" ? field("Per amount (minor units)", c.unit_minor, { name: "effect.unit_minor" }) : null);
    };
    c.effect_type.addEventListener("change", showEffect);
    showEffect();
    clear(this.element,
      h("fieldset", {}, h("legend", { text: "Campaign" }),
        field("Campaign id (optional)", c.campaign_id, { name: "campaign_id" }), field("Name", c.name, { name: "name" }),
        field("Description", c.description, { name: "description" }),
        field("Starts at (RFC 3339, UTC)", c.starts_at, { name: "starts_at" }), field("Ends at", c.ends_at, { name: "ends_at" }),
        field("Priority (higher first)", c.priority, { name: "priority" }), field("Exclusive group", c.exclusive_group, { name: "exclusive_group" })),
      h("fieldset", {}, h("legend", { text: "Conditions" }),
        this.extra.conditions ? h("p", { text: "Nested conditions: edit them in the JSON view." }) : this.conditions.element),
      h("fieldset", { class: "offer" }, h("legend", { text: "Audience, activation and holdout" }),
        this.audience.element,
        field("Activation", c.activation, { name: "activation" }),
        field("Holdout (% of the audience held out as a control group, 0-50)", c.holdout_percent, { name: "holdout_percent",
          hint: "Held-out members never get the campaign; the lift of the ended campaign compares them with the others." })),
      h("fieldset", {}, h("legend", { text: "Applies to (empty: the whole eligible amount)" }),
        field("Categories (comma-separated)", c.categories, { name: "applies_to.categories" }),
        field("SKUs (comma-separated)", c.skus, { name: "applies_to.skus" })),
      h("fieldset", {}, h("legend", { text: "Effect" }), field("Type", c.effect_type, { name: "effect" }), effectFields),
      h("fieldset", {}, h("legend", { text: "Limits" }),
        h("table", { class: "rows" }, h("thead", {}, h("tr", {}, ["Per", "Period", "Of", "At most", ""].map((t) => h("th", { scope: "col", text: t })))), this.limitRows),
        this.editable ? button("Add a limit", () => this.addLimit({ per: "member", period: "day", max_points: "" })) : null));
  }

  addLimit(limit) {
    const index = this.limitRows.children.length;
    const disabled = !this.editable;
    const per = select([["member"], ["campaign"]], { "aria-label": `Limit ${index + 1}: per`, disabled });
    const period = select([["day"], ["campaign"]], { "aria-label": `Limit ${index + 1}: period`, disabled });
    const of = select([["max_points", "points"], ["max_times", "times"]], { "aria-label": `Limit ${index + 1}: of`, disabled });
    const most = input({ type: "number", "aria-label": `Limit ${index + 1}: at most`, value: String(limit.max_points ?? limit.max_times ?? ""), disabled });
    per.value = limit.per; period.value = limit.period; of.value = limit.max_times ? "max_times" : "max_points";
    per.dataset.field = `limits.${index}.per`; period.dataset.field = `limits.${index}.period`; most.dataset.field = `limits.${index}`;
    const row = h("tr", { class: "limit" }, ...[per, period, of, most].map((c) => h("td", { class: "field" }, c)),
      h("td", {}, this.editable ? button("Remove", () => row.remove(), { "aria-label": `Remove limit ${index + 1}` }) : null));
    this.limitRows.append(row);
  }

  document() {
    const c = this.controls;
    const effect = { type: c.effect_type.value };
    if (effect.type === "multiply") effect.factor = c.factor.value.trim();
    else effect.points = numberOrText(c.points.value);
    if (effect.type === "per_amount") effect.unit_minor = numberOrText(c.unit_minor.value);
    const limits = [...this.limitRows.children].map((row) => {
      const [per, period, of, most] = row.querySelectorAll("select, input");
      return { per: per.value, period: period.value, [of.value]: numberOrText(most.value) };
    });
    const categories = list(c.categories.value), skus = list(c.skus.value);
    const doc = {
      ...this.extra,
      name: c.name.value, description: c.description.value,
      starts_at: c.starts_at.value.trim() || null, ends_at: c.ends_at.value.trim() || null,
      priority: numberOrText(c.priority.value), exclusive_group: c.exclusive_group.value.trim() || null,
      applies_to: categories.length || skus.length ? { categories, skus } : null,
      effect, limits,
      audience: this.audience.value(), activation: c.activation.value, holdout_percent: numberOrText(c.holdout_percent.value),
    };
    if (!this.extra.conditions) doc.conditions = this.conditions.value();
    if (c.campaign_id.value.trim()) doc.campaign_id = c.campaign_id.value.trim();
    return doc;
  }
}

function previewPanel(context, campaignId, currency) {
  const member = input({ name: "member_id" });
  const amount = input({ type: "number", name: "amount_minor", value: "1000" });
  const channel = input({ name: "channel", value: "store" });
  const items = h("textarea", { name: "items", rows: "3", placeholder: "sku, category, amount_minor, quantity — one line each" });
  const run = h("button", { type: "submit" }, "Preview");
  const result = h("div", { class: "preview-result", "aria-live": "polite" });
  const form = h("form", { id: "preview-form", "aria-labelledby": "preview-title" }, h("h2", { id: "preview-title", text: "Preview on a sample basket" }),
    h("p", { class: "hint", text: "What an earn would credit now, with the active campaigns; nothing is written." }),
    field("Member id", member, { name: "member_id" }), field("Amount (minor units)", amount, { name: "amount_minor" }),
    field("Channel", channel, { name: "channel" }), field("Basket lines (optional)", items, { name: "items" }), run, result);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const lines = items.value.split("\n").map((line) => line.split(",").map((p) => p.trim())).filter((p) => p[0]);
    const body = { transaction_id: `preview-${Date.now()}`, amount_minor: numberOrText(amount.value), currency,
      channel: channel.value.trim() || null,
      items: lines.length ? lines.map(([sku, category, minor, quantity]) => ({ sku, category, amount_minor: numberOrText(minor || ""), quantity: numberOrText(quantity || "1") })) : null };
    clear(result);
    const preview = await act(form, () => context.api.post(`/v1/members/${encodeURIComponent(member.value.trim())}/earn/preview`, body), { control: run });
    if (!preview) return;
    const mine = preview.breakdown.find((line) => line.campaign_id === campaignId);
    const notMine = preview.not_applied.find((line) => line.campaign_id === campaignId);
    clear(result,
      h("p", { class: "preview-total", text: `${num(preview.points)} points (base ${num(preview.base_points)})` }),
      table(["Source", "Campaign", "Points"], preview.breakdown.map((line) => h("tr", { "data-source": line.source, "data-campaign": line.campaign_id || "" },
        h("td", { text: line.source }), h("td", { text: line.campaign_id || "—" }), h("td", { class: "n", text: num(line.points) }))), "Breakdown"),
      preview.limited.length ? table(["Campaign", "Wanted", "Given"], preview.limited.map((cut) => h("tr", {}, h("td", { text: cut.campaign_id }),
        h("td", { text: num(cut.wanted) }), h("td", { text: num(cut.given) }))), "Cut by limits") : null,
      preview.not_applied.length ? table(["Campaign", "Why not"], preview.not_applied.map((n) => h("tr", {}, h("td", { text: n.campaign_id }),
        h("td", { text: n.reason }))), "Not applied") : null,
      campaignId ? h("p", { class: "preview-verdict", text: mine ? `${campaignId} adds ${num(mine.points)} points.`
        : notMine ? `${campaignId} does not apply: ${notMine.reason}.` : `${campaignId} is not active: the preview counts active campaigns only.` }) : null);
  });
  return form;
}

function figures(className, pairs) {
  return h("dl", { class: className }, pairs.map(([key, label, text]) => h("div", {},
    h("dt", { text: label }), h("dd", { [`data-${className.replace(/-figures$/, "")}`]: key, text }))));
}

/** POST /v1/campaigns/{id}/backtest over a past range: what it would have awarded, in all and per day. */
function backtestPanel(context, campaignId, currency) {
  const today = new Date();
  const from = input({ type: "date", name: "from", value: isoDate(new Date(today.getTime() - 29 * 86400000)) });
  const to = input({ type: "date", name: "to", value: isoDate(today) });
  const run = h("button", { type: "submit", class: "primary" }, "Backtest");
  const result = h("div", { class: "backtest-result", "aria-live": "polite" });
  const form = h("form", { id: "backtest-form", class: "panel", "aria-labelledby": "backtest-title" },
    h("h2", { id: "backtest-title", text: "Backtest on a past range" }),
    h("p", { class: "hint", text: "Replays the stored purchases of the range (at most 366 days) through this campaign as if it had "
      + "been active then: its schedule, conditions, effect and limits. Nothing is written." }),
    h("div", { class: "inline" }, field("From", from, { name: "from" }), field("To", to, { name: "to" }), run), result);
  let generation = 0;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const mine = ++generation;
    clear(result, loading("Replaying the purchases…"));
    const answer = await act(form, async () => {
      const view = await context.api.post(`/v1/campaigns/${encodeURIComponent(campaignId)}/backtest`, { from: from.value, to: to.value });
      if (view.status === "succeeded") return view;
      // running (Athena): its answer is the query's result once it has succeeded
      const query = await settle(context.api, view.query_id, { wanted: () => mine === generation && form.isConnected });
      return query && { ...query.result, query_id: query.query_id };
    }, { control: run, scope: form });
    if (mine !== generation) return;
    if (!answer) { clear(result); return; }
    const days = answer.by_day.map((d) => d.day);
    clear(result,
      h("p", { class: "backtest-range", text: `${answer.from} to ${answer.to}` }),
      figures("backtest-figures", [
        ["purchases_matched", "Purchases it would have applied to", num(answer.purchases_matched)],
        ["members_matched", "Members", num(answer.members_matched)],
        ["points", "Points it would have awarded", num(answer.points)],
        ["cost_minor", "Their cost", money(answer.cost_minor, currency)]]),
      days.length ? timeChart("Points it would have awarded per day", days, [
        { label: "Points", values: answer.by_day.map((d) => d.points) },
        { label: "Purchases", values: answer.by_day.map((d) => d.purchases), plot: false }], { id: "chart-backtest" }) : null);
  });
  return form;
}

function day(value) { return value ? value.slice(0, 10) : null; }

/** The lift range: the campaign's own dates (the insight clips to them), at most the insights' 1,096 days. */
function liftRange(doc) {
  const to = day(doc.ended_at) || day(doc.ends_at) || isoDate(new Date());
  let from = day(doc.starts_at) || day(doc.activated_at) || day(doc.created_at) || to;
  const earliest = isoDate(new Date(Date.parse(`${to}T00:00:00Z`) - 1095 * 86400000));
  if (from < earliest) from = earliest;
  if (from > to) from = to;
  return { from, to };
}

function money4(minor, currency) {
  if (minor === null || minor === undefined) return "—";
  return new Intl.NumberFormat("en", { style: "currency", currency: currency || "EUR", maximumFractionDigits: 4 }).format(minor / 100);
}

function liftView(result, currency) {
  const groups = [["treated", "Treated"], ["holdout", "Held out"]];
  const rows = [
    ["members", "Members", num], ["buyers", "Buyers", num], ["purchases_per_member", "Purchases per member", num],
    ["spend_per_member_minor", "Spend per member", (v) => money(v, currency)]];
  const lift = result.lift;
  return h("div", {},
    h("p", { class: "lift-range", text: `Measured over ${result.from} to ${result.to}; holdout ${num(result.holdout_percent)} %.` }),
    table(["", ...groups.map(([, label]) => label)], rows.map(([key, label, format]) => h("tr", { "data-row": key },
      h("th", { scope: "row", text: label }),
      groups.map(([group]) => h("td", { class: "n", "data-group": group, text: result[group] ? format(result[group][key]) : "—" })))),
    "Treated and held-out members"),
    figures("lift-figures", [
      ["points_awarded", "Points the campaign awarded", num(result.points_awarded)],
      ["points_cost_minor", "Their cost", money(result.points_cost_minor, currency)],
      ...(lift ? [
        ["difference", "Spend per member, treated − held out", money(lift.spend_per_member_minor, currency)],
        ["ci95", "95 % interval", `${money(lift.ci95_minor[0], currency)} to ${money(lift.ci95_minor[1], currency)}`],
        ["incremental_revenue_minor", "Incremental revenue", money(lift.incremental_revenue_minor, currency)],
        ["incremental_revenue_per_point_minor", "Incremental revenue per point", money4(lift.incremental_revenue_per_point_minor, currency)],
      ] : [])]),
    lift ? h("p", { class: "hint", text: `${lift.method}${lift.degrees_of_freedom ? `; ${num(lift.degrees_of_freedom)} degrees of freedom` : ""}.` })
      : h("p", { class: "lift-none", text: result.holdout_percent
        ? "No lift yet: each group needs at least two members."
        : "No lift: the campaign held nobody out, so there is no control group to compare with." }));
}

/** The campaign_lift insight of an ended campaign, over its dates. */
function liftPanel(context, doc, currency) {
  const body = h("div", {}, loading("Measuring the lift…"));
  const panel = h("section", { id: "lift", class: "panel", "aria-labelledby": "lift-title" }, h("h2", { id: "lift-title", text: "Lift" }), body);
  runInsight(context.api, "campaign_lift", { ...liftRange(doc), campaign_id: doc.campaign_id }, {
    wanted: () => panel.isConnected, onRunning: () => clear(body, loading("The lift query is running…")),
  }).then((query) => {
    if (query && panel.isConnected) { panel.dataset.queryId = query.query_id; clear(body, liftView(query.result, currency)); }
  }).catch((error) => { if (panel.isConnected) { clear(body); showError(body, error); } });
  return panel;
}

async function editor(context, root, campaignId) {
  const { api, navigate, program } = context;
  const currency = (await program()).currency;
  const doc = campaignId ? await api.get(`/v1/campaigns/${encodeURIComponent(campaignId)}`) : {};
  const editable = !doc.status || doc.status === "draft";
  const segments = { items: [], error: null };  // the audience's choices; without them the rest of the form still works
  try { segments.items = await api.all("/v1/segments"); } catch (error) { segments.error = error; }
  const form = new CampaignForm(doc, editable, segments);
  const json = h("textarea", { id: "campaign-json", rows: "16", spellcheck: false, class: "json" });
  const jsonBox = h("details", { class: "json-view" }, h("summary", { text: "JSON view" }),
    field("The document sent to the API", json, { name: "json" }),
    editable ? button("Use this JSON in the form", () => {
      try { form.load({ ...JSON.parse(json.value), status: doc.status }); toast("JSON applied to the form"); } catch (error) {
        form.element.prepend(h("div", { class: "error-box", role: "alert", text: `Not valid JSON: ${error.message}` }));
      }
    }) : null);
  jsonBox.addEventListener("toggle", () => { if (jsonBox.open) json.value = JSON.stringify(form.document(), null, 2); });
  const save = h("button", { type: "submit", class: "primary" }, doc.status ? "Save draft" : "Create draft");
  const formElement = h("form", { id: "campaign-form", "aria-label": "Campaign" }, form.element, editable ? save : null);
  formElement.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = form.document();
    const saved = await act(formElement, () => (doc.status
      ? api.put(`/v1/campaigns/${encodeURIComponent(doc.campaign_id)}`, body) : api.post("/v1/campaigns", body)), { control: save });
    if (saved) { toast(`Saved ${saved.campaign_id}`); navigate(`#/campaigns/${encodeURIComponent(saved.campaign_id)}`); if (doc.status) await editor(context, root, saved.campaign_id); }
  });
  const status = doc.status ? h("div", { class: "campaign-status" },
    h("p", {}, "Status: ", h("strong", { "data-campaign-status": doc.status, text: doc.status })),
    h("dl", { class: "counters" }, h("div", {}, h("dt", { text: "Points awarded" }), h("dd", { "data-counter": "points_awarded", text: num(doc.points_awarded) })),
      h("div", {}, h("dt", { text: "Times applied" }), h("dd", { "data-counter": "times_applied", text: num(doc.times_applied) })))) : null;
  const lifecycle = h("div", { class: "row", id: "campaign-lifecycle" });
  const transition = (verb, label) => {
    const control = button(label, () => act(lifecycle, async () => {
      await api.post(`/v1/campaigns/${encodeURIComponent(doc.campaign_id)}/${verb}`);
      toast(`${doc.campaign_id}: ${verb}`);
      await editor(context, root, doc.campaign_id);
    }, { control }), { class: verb === "end" ? "danger" : "primary" });
    return control;
  };
  if (doc.status === "draft") lifecycle.append(transition("activate", "Activate"));
  if (doc.status === "active") lifecycle.append(transition("end", "End"));
  clear(root, h("p", {}, h("a", { href: "#/campaigns", text: "← All campaigns" })),
    h("h2", { text: doc.status ? `${doc.name} (${doc.campaign_id})` : "New draft campaign" }),
    status, lifecycle, doc.status === "ended" ? liftPanel(context, doc, currency) : null, formElement, jsonBox,
    doc.status ? backtestPanel(context, doc.campaign_id, currency) : null,
    doc.status ? previewPanel(context, doc.campaign_id, currency) : null);
}

async function listing({ api }, root, status) {
  const filter = select([["draft", "Drafts"], ["active", "Active"], ["ended", "Ended"]], { name: "status" });
  filter.value = status;
  const results = h("div", {}, loading());
  clear(root, h("div", { class: "row" }, h("a", { class: "button primary", href: "#/campaigns/new", text: "New campaign" })),
    h("form", { class: "inline", "aria-label": "Campaigns by status" }, field("Status", filter, { name: "status" })), results);
  let latest = 0; // a slower answer to an earlier filter must not replace the answer to the filter shown
  const load = async () => {
    const asked = ++latest;
    clear(results, loading());
    const page = await act(results, () => api.get("/v1/campaigns", { status: filter.value, limit: 100 }));
    if (!page || asked !== latest) return;
    clear(results, page.items.length === 0 ? empty(`No ${filter.value} campaigns.`) : table(["Campaign", "Status", "Starts", "Ends", "Points awarded", "Times applied"],
      page.items.map((c) => h("tr", { "data-campaign": c.campaign_id },
        h("td", {}, h("a", { href: `#/campaigns/${encodeURIComponent(c.campaign_id)}`, text: `${c.name} (${c.campaign_id})` })),
        h("td", { text: c.status }), h("td", { text: when(c.starts_at) }), h("td", { text: when(c.ends_at) }),
        h("td", { class: "n", text: num(c.points_awarded) }), h("td", { class: "n", text: num(c.times_applied) })))));
  };
  filter.addEventListener("change", load);
  await load();
}

export default {
  id: "campaigns",
  title: "Campaigns",
  async render(context, root, [campaignId]) {
    if (!campaignId) return listing(context, root, "draft");
    return editor(context, root, campaignId === "new" ? null : campaignId);
  },
};
