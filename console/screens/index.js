// The console's screens, in the navigation's order. A new screen is one module here, with
// { id, title, render(context, root, params) }.
import dashboard from "./dashboard.js";
import members from "./members.js";
import campaigns from "./campaigns.js";
import segments from "./segments.js";
import rewards from "./rewards.js";
import program from "./program.js";
import messages from "./messages.js";
import webhooks from "./webhooks.js";

export default [dashboard, members, campaigns, segments, rewards, program, messages, webhooks];
