// The console's screens, in the navigation's order. A new screen is one module here (segments, program versions
// and message templates will be), with { id, title, render(context, root, params) }.
import dashboard from "./dashboard.js";
import members from "./members.js";
import campaigns from "./campaigns.js";
import rewards from "./rewards.js";
import webhooks from "./webhooks.js";

export default [dashboard, members, campaigns, rewards, webhooks];
