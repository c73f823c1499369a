// Signing in. config.json (not part of the shipped files: `make run` serves it, `make deploy` writes it from the
// stack's outputs) says how:
//   {"mode": "local", "api": "", "token": "..."}: the local runtime's admin token, no sign-in screen;
//   {"mode": "cognito", "api": "https://...", "authority": "https://<domain>.auth.<region>.amazoncognito.com",
//    "client_id": "...", "scope": "openid email loyalty/admin"}: the authorization code flow with PKCE (RFC 7636)
//   against the Cognito hosted UI. The access token lives in sessionStorage, for this tab only.

const TOKEN_KEY = "loyalty-console-token";
const FLOW_KEY = "loyalty-console-pkce";

function base64url(bytes) {
  let text = "";
  for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** A code verifier: 32 random bytes, base64url (43 characters, within RFC 7636's 43-128). */
export function newVerifier() {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

/** The S256 code challenge of a verifier: base64url(SHA-256(ASCII(verifier))). */
export async function pkceChallenge(verifier) {
  return base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
}

/** An endpoint of the hosted UI (the authority may carry a path: the endpoint goes under it). */
function endpoint(authority, path) {
  return new URL(`${authority.replace(/\/+$/, "")}${path}`);
}

function redirectUri() {
  return window.location.origin + window.location.pathname;
}

export class Session {
  constructor(config) {
    this.config = config;
    this.accessToken = config.mode === "local" ? config.token : sessionStorage.getItem(TOKEN_KEY);
  }

  static async load() {
    const response = await fetch("./config.json", { cache: "no-store" });
    if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
    const session = new Session(await response.json());
    if (session.config.mode === "cognito") await session.finishSignIn();
    return session;
  }

  get apiBase() { return this.config.api || ""; }
  token() { return this.accessToken; }
  signedIn() { return Boolean(this.accessToken); }
  canSignOut() { return this.config.mode === "cognito"; }

  /** A 401: the token expired or was revoked. Locally there is nothing to do; with Cognito, sign in again. */
  refused() {
    if (this.config.mode !== "cognito") return;
    sessionStorage.removeItem(TOKEN_KEY);
    this.accessToken = null;
    this.signIn();
  }

  async signIn() {
    const verifier = newVerifier();
    const state = newVerifier();
    sessionStorage.setItem(FLOW_KEY, JSON.stringify({ verifier, state, hash: window.location.hash }));
    const url = endpoint(this.config.authority, "/oauth2/authorize");
    url.search = new URLSearchParams({
      response_type: "code", client_id: this.config.client_id, redirect_uri: redirectUri(),
      scope: this.config.scope || "openid email loyalty/admin", state,
      code_challenge: await pkceChallenge(verifier), code_challenge_method: "S256",
    }).toString();
    window.location.assign(url.toString());
  }

  /** Back from the hosted UI with ?code=&state=: exchange the code (with the verifier) for tokens. */
  async finishSignIn() {
    const params = new URLSearchParams(window.location.search);
    const code = params.get("code");
    if (!code) return;
    const flow = JSON.parse(sessionStorage.getItem(FLOW_KEY) || "null");
    sessionStorage.removeItem(FLOW_KEY);
    if (!flow || flow.state !== params.get("state")) throw new Error("sign-in: the state does not match; sign in again");
    const response = await fetch(endpoint(this.config.authority, "/oauth2/token"), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code", client_id: this.config.client_id, code,
        redirect_uri: redirectUri(), code_verifier: flow.verifier,
      }),
    });
    if (!response.ok) throw new Error(`sign-in: the token endpoint answered ${response.status}`);
    const tokens = await response.json();
    this.accessToken = tokens.access_token;
    sessionStorage.setItem(TOKEN_KEY, this.accessToken);
    window.history.replaceState(null, "", redirectUri() + (flow.hash || ""));
  }

  signOut() {
    sessionStorage.removeItem(TOKEN_KEY);
    this.accessToken = null;
    const url = endpoint(this.config.authority, "/logout");
    url.search = new URLSearchParams({ client_id: this.config.client_id, logout_uri: redirectUri() }).toString();
    window.location.assign(url.toString());
  }
}
