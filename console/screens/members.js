// Members: find one by e-mail or id; its profile, balance, pending points, tier progress and activity (each
// earn's breakdown), facts and segments; adjust with a reason, block and unblock, cancel a redemption, export, erase.
import { idempotencyKey } from "../api.js";
import { act, button, clear, empty, field, h, input, loading, money, num, showError, table, toast, when } from "../ui.js";

function numberOrText(value) {
  return value.trim() !== "" && Number.isFinite(Number(value)) ? Number(value) : value;
}

function searchForm({ api, navigate }, initial = "") {
  const query = input({ type: "search", name: "query", value: initial, autocomplete: "off" });
  const find = h("button", { type: "submit", class: "primary" }, "Find");
  const form = h("form", { class: "inline", role: "search", "aria-label": "Find a member" },
    field("E-mail or member id", query, { name: "email" }), find);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = query.value.trim();
    await act(form, async () => {
      if (text.includes("@")) {
        const page = await api.get("/v1/members", { email: text });
        if (!page.items.length) {
          form.append(h("p", { class: "state empty", role: "status", text: `No member has the e-mail ${text}.` }));
          return;
        }
        navigate(`#/members/${encodeURIComponent(page.items[0].member_id)}`);
      } else if (text) {
        navigate(`#/members/${encodeURIComponent(text)}`);
      }
    }, { control: find });
  });
  return form;
}

function profile(member, currency) {
  const progress = member.tier_progress;
  const rows = [
    ["Member id", member.member_id], ["Status", member.status], ["E-mail", member.email], ["Name", member.name ?? "—"],
    ["Phone", member.phone ?? "—"], ["Birthday", member.birthday ?? "—"], ["Channel", member.channel],
    ["Enrolled", when(member.enrolled_at)], ["Marketing opt-in", member.marketing_opt_in ? "yes" : "no"],
    ["Balance", `${num(member.points_balance)} points (${money(member.points_value_minor, currency)})`],
    ["Pending", `${num(member.points_pending)} points`], ["Tier", member.tier],
    ["Lifetime points", num(member.lifetime_points)], ["Purchases", num(member.purchases)],
  ];
  const list = h("dl", { class: "profile" }, rows.map(([label, value]) => h("div", {},
    h("dt", { text: label }), h("dd", { "data-member": label.toLowerCase().replace(/[^a-z]+/g, "-"), text: value }))));
  const target = progress.points_to_next_tier === null ? null : progress.qualifying_points + progress.points_to_next_tier;
  const tier = h("div", { class: "tier-progress" },
    h("p", { id: "tier-progress-label", text: progress.next_tier
      ? `${num(progress.qualifying_points)} qualifying points in ${progress.window_months} months; ${num(progress.points_to_next_tier)} more to ${progress.next_tier}`
      : `${num(progress.qualifying_points)} qualifying points: top tier` }),
    target ? h("progress", { max: String(target), value: String(progress.qualifying_points), "aria-labelledby": "tier-progress-label" }) : null);
  const pending = member.pending.length ? table(["Points", "Available at"],
    member.pending.map((p) => h("tr", {}, h("td", { text: num(p.points) }), h("td", { text: when(p.available_at) }))), "Pending points")
    : null;
  return h("div", { class: "member-profile" }, list, tier, pending);
}

function describe(entry) {
  const parts = [];
  if (entry.transaction_id) parts.push(`transaction ${entry.transaction_id}`);
  if (entry.amount_minor !== null && entry.amount_minor !== undefined) parts.push(`amount ${num(entry.amount_minor)} (minor units)`);
  if (entry.reward_id) parts.push(`reward ${entry.reward_id}`);
  if (entry.bonus) parts.push(`bonus ${entry.bonus}`);
  if (entry.reason) parts.push(`reason: ${entry.reason}`);
  if (entry.actor) parts.push(`by ${entry.actor}`);
  if (entry.redemption_id) parts.push(`redemption ${entry.redemption_id}`);
  if (entry.available_at) parts.push(`available ${when(entry.available_at)}`);
  return parts.join("; ");
}

function breakdown(entry) {
  if (!entry.breakdown || !entry.breakdown.length) return null;
  return h("ul", { class: "breakdown", "aria-label": "Breakdown" },
    entry.base_points !== null && entry.base_points !== undefined ? h("li", { text: `base points before tier and campaigns: ${num(entry.base_points)}` }) : null,
    entry.breakdown.map((line) => h("li", { "data-source": line.source,
      text: `${line.source}${line.campaign_id ? ` (${line.campaign_id})` : ""}: ${num(line.points)}` })),
    (entry.limited || []).map((cut) => h("li", { text: `limited ${cut.campaign_id}: wanted ${num(cut.wanted)}, given ${num(cut.given)}` })));
}

function activityRows(context, memberId, items, cancelled, reload) {
  return items.map((entry) => {
    const cell = h("td", {}, describe(entry), breakdown(entry));
    if (entry.type === "redeem" && !cancelled.has(entry.entry_id)) {
      const cancel = button("Cancel redemption", () => act(cell, async () => {
        await context.api.post(`/v1/members/${encodeURIComponent(memberId)}/redemptions/${encodeURIComponent(entry.entry_id)}/cancel`);
        toast(`Redemption ${entry.entry_id} cancelled`);
        await reload();
      }, { control: cancel }), { "aria-label": `Cancel redemption ${entry.entry_id}` });
      cell.append(h("div", { class: "row" }, cancel));
    }
    return h("tr", { "data-entry": entry.entry_id, "data-type": entry.type },
      h("td", { text: when(entry.created_at) }), h("td", { text: entry.type }), h("td", { class: "n", text: num(entry.points) }),
      h("td", { class: "n", text: num(entry.balance_after) }), cell);
  });
}

async function activity(context, memberId, reload) {
  const section = h("section", { "aria-labelledby": "activity-title" }, h("h2", { id: "activity-title", text: "Activity" }));
  const page = await context.api.get(`/v1/members/${encodeURIComponent(memberId)}/activity`, { limit: 50 });
  if (!page.items.length) { section.append(empty("No activity yet.")); return section; }
  const cancelled = new Set(page.items.filter((e) => e.type === "cancel").map((e) => e.redemption_id));
  const body = h("tbody", {}, activityRows(context, memberId, page.items, cancelled, reload));
  section.append(h("table", { class: "activity" },
    h("thead", {}, h("tr", {}, ["When", "Type", "Points", "Balance after", "Details"].map((t) => h("th", { scope: "col", text: t })))), body));
  let cursor = page.next_cursor;
  if (cursor) {
    const more = button("More activity", () => act(section, async () => {
      const next = await context.api.get(`/v1/members/${encodeURIComponent(memberId)}/activity`, { limit: 50, cursor });
      body.append(...activityRows(context, memberId, next.items, cancelled, reload));
      cursor = next.next_cursor;
      if (!cursor) more.remove();
    }, { control: more }));
    section.append(more);
  }
  return section;
}

function adjustForm(context, memberId, reload) {
  const points = input({ type: "number", name: "points", step: "1", required: true });
  const reason = input({ name: "reason", required: true, maxlength: "500" });
  const submit = h("button", { type: "submit", class: "primary" }, "Adjust");
  const form = h("form", { id: "adjust-form", "aria-labelledby": "adjust-title" }, h("h3", { id: "adjust-title", text: "Adjust points" }),
    field("Points (negative to debit)", points, { name: "points" }), field("Reason", reason, { name: "reason" }), submit);
  let key = idempotencyKey();  // one per adjustment: a retry after a lost answer is not a second one
  let sent = null;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { points: numberOrText(points.value), reason: reason.value };
    if (sent && JSON.stringify(sent) !== JSON.stringify(body)) key = idempotencyKey();
    sent = body;
    const done = await act(form, () => context.api.post(`/v1/members/${encodeURIComponent(memberId)}/adjustments`, body,
      { "idempotency-key": key }), { control: submit });
    if (done) { toast(`Adjusted by ${body.points} points`); await reload(); }
  });
  return form;
}

function blockForm(context, member, reload) {
  const path = `/v1/members/${encodeURIComponent(member.member_id)}`;
  if (member.status === "blocked") {
    const form = h("form", { id: "block-form", "aria-labelledby": "block-title" }, h("h3", { id: "block-title", text: "Blocked" }));
    const unblock = h("button", { type: "submit" }, "Unblock");
    form.append(h("p", { text: "This member can neither earn nor redeem." }), unblock);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (await act(form, () => context.api.post(`${path}/unblock`), { control: unblock })) { toast("Unblocked"); await reload(); }
    });
    return form;
  }
  const reason = input({ name: "reason", required: true, maxlength: "500" });
  const block = h("button", { type: "submit" }, "Block");
  const form = h("form", { id: "block-form", "aria-labelledby": "block-title" }, h("h3", { id: "block-title", text: "Block" }),
    field("Reason for blocking", reason, { name: "reason" }), block);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (await act(form, () => context.api.post(`${path}/block`, { reason: reason.value }), { control: block })) { toast("Blocked"); await reload(); }
  });
  return form;
}

function exportButton(context, memberId) {
  const row = h("div", { class: "row" });
  const run = button("Download export (JSON)", () => act(row, async () => {
    const data = await context.api.get(`/v1/members/${encodeURIComponent(memberId)}/export`);
    const link = h("a", { href: URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" })),
      download: `member-${memberId}.json` });
    document.body.append(link);
    link.click();
    link.remove();
    toast("Export downloaded");
  }, { control: run }));
  row.append(run);
  return row;
}

function eraseForm(context, memberId) {
  const confirm = input({ name: "confirm", autocomplete: "off", spellcheck: false });
  const erase = h("button", { type: "submit", class: "danger", disabled: true }, "Erase personal data");
  const form = h("form", { id: "erase-form", "aria-labelledby": "erase-title" }, h("h3", { id: "erase-title", text: "Erase" }),
    h("p", { text: "Erasing removes the member's personal data for good. Their ledger stays, pseudonymous." }),
    field(`Type the member id (${memberId}) to confirm`, confirm, { name: "confirm" }), erase);
  confirm.addEventListener("input", () => { erase.disabled = confirm.value !== memberId; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (confirm.value !== memberId) return;
    const done = await act(form, () => context.api.delete(`/v1/members/${encodeURIComponent(memberId)}`), { control: erase });
    if (done) clear(form, h("p", { class: "done", role: "status", text: `Erased at ${when(done.erased_at)}.` }));
  });
  return form;
}

const FACT_LABELS = [["tier", "Tier"], ["channel", "Enrolment channel"], ["enrolled_days", "Days enrolled"],
  ["marketing_opt_in", "Marketing opt-in"], ["days_from_birthday", "Days from birthday"], ["purchase_count", "Purchases (all time)"],
  ["spend_minor", "Spend (all time)", "money"], ["avg_basket_minor", "Average basket", "money"], ["last_purchase_at", "Last purchase", "time"],
  ["days_since_last_purchase", "Days since last purchase"], ["purchases_90d", "Purchases, 90 days"], ["spend_90d_minor", "Spend, 90 days", "money"],
  ["categories_90d", "Categories, 90 days"], ["points_balance", "Points balance"], ["points_expiring_30d", "Points expiring in 30 days"],
  ["redemptions_count", "Redemptions"], ["days_since_last_redemption", "Days since last redemption"], ["rfm", "RFM (recency, frequency, monetary)"]];

function factText(value, kind, currency) {
  if (value === null || value === undefined) return "—";
  if (kind === "money") return money(value, currency);
  if (kind === "time") return when(value);
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (Array.isArray(value)) return value.length ? value.join(", ") : "none";
  if (typeof value === "object") return `R ${value.r} · F ${value.f} · M ${value.m}`;
  return typeof value === "number" ? num(value) : String(value);
}

/** GET /v1/members/{id}/facts: what segments and campaign conditions see, and the segments the member is in now. */
async function factsSection(context, memberId, currency) {
  const section = h("section", { id: "member-facts", "aria-labelledby": "facts-title" },
    h("h2", { id: "facts-title", text: "Facts and segments" }));
  let facts;
  try {
    facts = await context.api.get(`/v1/members/${encodeURIComponent(memberId)}/facts`);
  } catch (error) {
    showError(section, error);
    return section;
  }
  const attributes = Object.entries(facts.attributes || {});
  const heldOut = Object.entries(facts.held_out || {});
  section.append(...[
    h("p", { class: "hint", text: `As of ${when(facts.as_of)}. Segments and campaign conditions test these as member.<fact>.` }),
    h("h3", { text: "Segments" }),
    facts.segments.length ? h("ul", { class: "member-segments" }, facts.segments.map((id) => h("li", { "data-segment": id },
      h("a", { href: `#/segments/${encodeURIComponent(id)}`, text: id })))) : empty("In no segment."),
    h("dl", { class: "profile facts-list" }, FACT_LABELS.map(([key, label, kind]) => h("div", {},
      h("dt", { text: label }), h("dd", { "data-fact": key, text: factText(facts[key], kind, currency) })))),
    attributes.length ? table(["Attribute", "Value"], attributes.map(([name, value]) => h("tr", { "data-attribute": name },
      h("td", { text: name }), h("td", { text: String(value) }))), "Attributes (the business's own)") : null,
    heldOut.length ? table(["Campaign", "Held out"], heldOut.map(([id, held]) => h("tr", { "data-held-out": id },
      h("td", {}, h("a", { href: `#/campaigns/${encodeURIComponent(id)}`, text: id })), h("td", { text: held ? "yes" : "no" }))),
    "Campaigns with a holdout: is this member in the control group?") : null].filter(Boolean));
  return section;
}

async function memberView(context, root, memberId) {
  const { api, program } = context;
  const currency = (await program()).currency;
  const reload = () => memberView(context, root, memberId);
  let member;
  try {
    member = await api.get(`/v1/members/${encodeURIComponent(memberId)}`);
  } catch (error) {
    clear(root, searchForm(context, memberId), h("div", { class: "error-box", role: "alert" },
      h("strong", { class: "error-code", text: error.code }), " ", h("span", { class: "error-message", text: error.message })));
    return;
  }
  const [history, facts] = await Promise.all([activity(context, memberId, reload), factsSection(context, memberId, currency)]);
  clear(root, searchForm(context),
    h("h2", { text: member.name ? `${member.name} (${member.member_id})` : member.member_id }),
    profile(member, currency),
    facts,
    h("div", { class: "actions" }, adjustForm(context, memberId, reload), blockForm(context, member, reload),
      h("section", { "aria-labelledby": "export-title" }, h("h3", { id: "export-title", text: "Export" }), exportButton(context, memberId)),
      eraseForm(context, memberId)),
    history);
}

export default {
  id: "members",
  title: "Members",
  async render(context, root, [memberId]) {
    if (!memberId) {
      clear(root, searchForm(context), empty("Find a member by e-mail or member id."));
      return;
    }
    clear(root, loading());
    await memberView(context, root, memberId);
  },
};
