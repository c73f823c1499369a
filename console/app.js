// The shell: sign in, the navigation, and a hash router (#/members/m-123) that renders one screen at a time.
import { Api } from "./api.js";
import { Session } from "./auth.js";
import { button, clear, h, loading } from "./ui.js";
import screens from "./screens/index.js";

const main = document.getElementById("main");

function route() {
  const [id, ...params] = window.location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  return { screen: screens.find((s) => s.id === id) || screens[0], params: params.filter(Boolean) };
}

function renderNav(current) {
  clear(document.getElementById("nav"), screens.map((screen) => h("li", {},
    h("a", { href: `#/${screen.id}`, "aria-current": screen === current ? "page" : false, text: screen.title }))));
}

async function show(context) {
  const { screen, params } = route();
  renderNav(screen);
  document.title = `${screen.title} · Loyalty back office`;
  const root = h("section", { class: "screen", "aria-labelledby": `${screen.id}-title` },
    h("h1", { id: `${screen.id}-title`, text: screen.title }));
  clear(main, root);
  const body = h("div", {}, loading());
  root.append(body);
  try {
    await screen.render(context, body, params);
  } catch (error) {
    clear(body, h("div", { class: "error-box", role: "alert" }, h("strong", { text: error.code || "ERROR" }), " ", error.message));
  }
}

async function start() {
  let session;
  try {
    session = await Session.load();
  } catch (error) {
    clear(main, h("div", { class: "error-box", role: "alert", text: `Cannot start: ${error.message}` }));
    return;
  }
  if (!session.signedIn()) {
    clear(main, h("p", {}, "You are signed out. "), button("Sign in", () => session.signIn()));
    return;
  }
  if (session.canSignOut()) clear(document.getElementById("account"), button("Sign out", () => session.signOut()));
  const api = new Api(session.apiBase, session);
  let program = null;  // read once: the currency and the rules the screens show
  const context = { api, session, navigate: (hash) => { window.location.hash = hash; },
    program: () => (program ??= api.get("/v1/program").catch((error) => { program = null; throw error; })) };
  window.addEventListener("hashchange", () => show(context));
  await show(context);
  performance.mark("console-ready");  // the first screen rendered with its data: the browser tests read it
  document.body.dataset.ready = "true";
}

start();
