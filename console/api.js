// The console's only way to the server: the public /v1 API with the signed-in token. Every failure becomes an
// ApiError carrying what the API said (code, message, field errors, details) for the screen to show beside its cause.

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.code) || (status === 0 ? "NETWORK_ERROR" : `HTTP_${status}`);
    this.errors = (body && Array.isArray(body.errors)) ? body.errors : [];
    this.details = (body && body.details) || null;
  }
}

export class Api {
  /** base: the API's origin ("" for the same origin); session: gives the token and is told when it is refused. */
  constructor(base, session) {
    this.base = base;
    this.session = session;
  }

  async request(method, path, { body, query, headers = {}, accept = "application/json" } = {}) {
    const url = new URL(this.base + path, window.location.href);
    for (const [name, value] of Object.entries(query || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    const init = { method, headers: { accept, authorization: `Bearer ${this.session.token()}`, ...headers } };
    if (body !== undefined) {
      init.headers["content-type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, init);
    } catch (error) {
      throw new ApiError(0, { message: `the API could not be reached (${error.message})` });
    }
    if (response.status === 401) this.session.refused();
    const text = await response.text();
    if (!response.ok) {
      let parsed = null;
      try { parsed = JSON.parse(text); } catch { parsed = { message: text.slice(0, 200) }; }
      throw new ApiError(response.status, parsed);
    }
    if (accept !== "application/json") return text;
    return text ? JSON.parse(text) : null;
  }

  get(path, query) { return this.request("GET", path, { query }); }

  /** Every item of a paged list, following next_cursor (100 a page). */
  async all(path, query = {}) {
    const items = [];
    let cursor = null;
    do {
      const page = await this.get(path, { ...query, limit: 100, cursor });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    return items;
  }
  post(path, body, headers) { return this.request("POST", path, { body, headers }); }
  put(path, body) { return this.request("PUT", path, { body }); }
  patch(path, body) { return this.request("PATCH", path, { body }); }
  delete(path) { return this.request("DELETE", path); }
}

/** A fresh Idempotency-Key for one user action (a retry of the same click keeps it). */
export function idempotencyKey() {
  return crypto.randomUUID();
}
