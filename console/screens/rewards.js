// Rewards: the catalog; create, edit, retire, and change stock by a signed delta.
import { act, button, clear, empty, field, h, input, loading, num, select, toast } from "../ui.js";

function numberOrText(value) {
  return value.trim() !== "" && Number.isFinite(Number(value)) ? Number(value) : value;
}
function optional(value) { return value.trim() === "" ? null : numberOrText(value); }

// GET /v1/rewards is the active catalog as the functions cache it (up to 60 s): what this console changed is
// shown from the API's own answers meanwhile, retired rewards included.
const changed = new Map();
function remember(view) { changed.set(view.reward_id, { ...(changed.get(view.reward_id) || {}), ...view }); return view; }

function rewardForm(context, reward, done) {
  const creating = !reward;
  const r = reward || { kind: "free_item", active: true };
  const c = {
    reward_id: input({ name: "reward_id", value: r.reward_id || "", disabled: !creating, pattern: "[a-z0-9-]{1,64}" }),
    name: input({ name: "name", value: r.name || "" }), description: input({ name: "description", value: r.description || "" }),
    kind: select([["free_item", "Free item"], ["discount", "Discount"], ["perk", "Perk"]], { name: "kind" }),
    points: input({ type: "number", name: "points", value: r.points ?? "" }),
    value_minor: input({ type: "number", name: "value_minor", value: r.value_minor ?? "" }),
    min_tier: input({ name: "min_tier", value: r.min_tier || "" }),
    per_member_limit: input({ type: "number", name: "per_member_limit", value: r.per_member_limit ?? "" }),
    stock: input({ type: "number", name: "stock", value: "" }),
    active: h("input", { type: "checkbox", name: "active", checked: r.active !== false }),
  };
  c.kind.value = r.kind;
  const save = h("button", { type: "submit", class: "primary" }, creating ? "Create reward" : "Save reward");
  const form = h("form", { class: "reward-form", "aria-label": creating ? "New reward" : `Edit ${r.reward_id}` },
    field("Reward id", c.reward_id, { name: "reward_id", hint: creating ? "lower-case letters, digits and hyphens" : undefined }),
    field("Name", c.name, { name: "name" }), field("Description", c.description, { name: "description" }),
    field("Kind", c.kind, { name: "kind" }), field("Points", c.points, { name: "points" }),
    field("Value (minor units)", c.value_minor, { name: "value_minor" }), field("Minimum tier (empty: any)", c.min_tier, { name: "min_tier" }),
    field("Per member limit (empty: none)", c.per_member_limit, { name: "per_member_limit" }),
    creating ? field("Stock (empty: unlimited)", c.stock, { name: "stock" }) : null,
    field("Active", c.active, { name: "active" }), save);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: c.name.value, description: c.description.value, kind: c.kind.value, points: numberOrText(c.points.value),
      value_minor: numberOrText(c.value_minor.value), min_tier: c.min_tier.value.trim() || null,
      per_member_limit: optional(c.per_member_limit.value), active: c.active.checked, starts_at: r.starts_at ?? null, ends_at: r.ends_at ?? null };
    const saved = await act(form, () => (creating
      ? context.api.post("/v1/rewards", { ...body, reward_id: c.reward_id.value.trim(), stock: optional(c.stock.value) })
      : context.api.put(`/v1/rewards/${encodeURIComponent(r.reward_id)}`, body)), { control: save });
    if (saved) { remember(saved); toast(`Saved ${saved.reward_id}`); await done(); }
  });
  return form;
}

function rewardCard(context, reward, reload) {
  const path = `/v1/rewards/${encodeURIComponent(reward.reward_id)}`;
  const card = h("article", { class: "card", "data-reward": reward.reward_id, "aria-labelledby": `reward-${reward.reward_id}` });
  const delta = input({ type: "number", name: "delta", step: "1" });
  const apply = h("button", { type: "submit" }, "Change stock");
  const stock = h("form", { class: "inline", "aria-label": `Stock of ${reward.reward_id}` },
    field("Stock change (signed)", delta, { name: "delta" }), apply);
  stock.addEventListener("submit", async (event) => {
    event.preventDefault();
    const changedStock = await act(stock, () => context.api.post(`${path}/stock`, { delta: numberOrText(delta.value) }), { control: apply });
    if (changedStock) { remember({ ...reward, ...changedStock }); toast(`Stock of ${reward.reward_id}: ${changedStock.stock}`); await reload(); }
  });
  const actions = h("div", { class: "row" });
  const edit = button("Edit", () => {
    const form = rewardForm(context, reward, reload);
    card.append(form);
    edit.disabled = true;
    form.querySelector("input:not([disabled])")?.focus();
  });
  const retire = button("Retire", () => act(actions, async () => {
    remember(await context.api.delete(path));
    toast(`Retired ${reward.reward_id}`);
    await reload();
  }, { control: retire }), { class: "danger", "aria-label": `Retire ${reward.reward_id}` });
  actions.append(edit, retire);
  card.append(h("h3", { id: `reward-${reward.reward_id}`, text: `${reward.name} (${reward.reward_id})` }),
    h("p", { text: reward.description }),
    h("dl", { class: "facts" }, [["Kind", reward.kind], ["Points", num(reward.points)], ["Value", num(reward.value_minor)],
      ["Stock", reward.stock === null || reward.stock === undefined ? "unlimited" : num(reward.stock)], ["Active", reward.active === false ? "no" : "yes"],
      ["Minimum tier", reward.min_tier || "any"]].map(([label, value]) => h("div", {}, h("dt", { text: label }),
      h("dd", { "data-reward-field": label.toLowerCase(), text: value })))),
    actions, stock);
  return card;
}

export default {
  id: "rewards",
  title: "Rewards",
  async render(context, root) {
    const list = h("div", { class: "cards" }, loading());
    const reload = async () => {
      const page = await act(list, () => context.api.get("/v1/rewards", { limit: 100 }));
      if (!page) return;
      const rewards = new Map(page.items.map((reward) => [reward.reward_id, reward]));
      for (const [id, view] of changed) rewards.set(id, { ...(rewards.get(id) || {}), ...view });
      clear(list, rewards.size ? [...rewards.values()].map((reward) => rewardCard(context, reward, reload)) : empty("No rewards in the catalog."));
    };
    const create = h("details", { class: "create" }, h("summary", { text: "New reward" }), rewardForm(context, null, reload));
    clear(root, create, list);
    await reload();
  },
};
