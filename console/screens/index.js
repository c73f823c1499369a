// The console's screens, in the navigation's order. A new screen is one module here (insights, segments,
// program versions, messages and webhooks will be), with { id, title, render(context, root, params) }.
import dashboard from "./dashboard.js";
import members from "./members.js";
import campaigns from "./campaigns.js";
import rewards from "./rewards.js";

export default [dashboard, members, campaigns, rewards];
