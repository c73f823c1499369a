// Insights on the analytics store: start a query, read it until it has succeeded or failed (Athena answers
// `running` first; DuckDB, locally, has usually succeeded already), and hand back its answer.
import { ApiError } from "./api.js";

const FIRST_WAIT_MS = 500;
const LONGEST_WAIT_MS = 5000;
const GIVE_UP_MS = 10 * 60 * 1000;  // Athena's own timeout for a query is 30 min; a screen waits 10

const pause = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** A query that ended `failed`: its reason is the engine's (a scan limit, a syntax error), shown as is. */
export class InsightFailed extends Error {
  constructor(query) {
    super(query.error || "the query failed");
    this.code = "QUERY_FAILED";
    this.errors = [];
    this.details = null;
    this.query = query;
  }
}

/**
 * Read GET /v1/insights/queries/{query_id} until it is no longer running. `wanted()` says whether anybody still
 * wants the answer (the screen is still there, its range unchanged): when it stops, so does the reading (null).
 * `onRunning(query)` is told each time the query is still running.
 */
export async function settle(api, queryId, { wanted = () => true, onRunning = () => {} } = {}) {
  const started = Date.now();
  let wait = FIRST_WAIT_MS;
  for (;;) {
    const query = await api.get(`/v1/insights/queries/${encodeURIComponent(queryId)}`);
    if (query.status === "succeeded") return query;
    if (query.status === "failed") throw new InsightFailed(query);
    if (!wanted()) return null;
    onRunning(query);
    if (Date.now() - started > GIVE_UP_MS) {
      throw new ApiError(0, { code: "STILL_RUNNING", message: `query ${queryId} is still running after 10 minutes; try again later` });
    }
    await pause(wait);
    if (!wanted()) return null;
    wait = Math.min(wait * 2, LONGEST_WAIT_MS);
  }
}

/** Run an insight (POST /v1/insights/queries) and wait for its answer: the query, with `result`. */
export async function runInsight(api, insight, params, options = {}) {
  const accepted = await api.post("/v1/insights/queries", { insight, params });
  return settle(api, accepted.query_id, options);
}
