// The API client: session cookie (set by login) plus the CSRF header on every unsafe request.
import { serverText } from "./i18n.js";

let csrf = null;
let onUnauthorized = () => {};

export function setCsrf(token) { csrf = token; }
export function whenUnauthorized(fn) { onUnauthorized = fn; }

export class ApiError extends Error {
  constructor(status, detail, retryAfter, data = {}) {
    const text = typeof detail === "string" ? detail : JSON.stringify(detail);
    super(serverText(text)); // in the console's language; `original` keeps the server's words
    this.original = text;
    this.status = status;
    this.retryAfter = retryAfter;
    this.data = data; // the whole answer: a refused rule upload lists its reasons in `rejected`
  }
}

export async function api(path, { method = "GET", body, query } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v === undefined || v === null || v === "") continue;
    for (const one of Array.isArray(v) ? v : [v]) url.searchParams.append(k, one);
  }
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  const resp = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin" });
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    if (resp.status === 401 && !path.endsWith("/auth/login")) onUnauthorized();
    const detail = Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ") : data.detail;
    throw new ApiError(resp.status, detail || resp.statusText, resp.headers.get("Retry-After"), data);
  }
  return data;
}

// A file from the API (exports): the body as a Blob and the headers (X-Export-* say what it holds).
export async function apiBlob(path, { method = "POST", body } = {}) {
  const headers = { Accept: "*/*", "Content-Type": "application/json" };
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const resp = await fetch(new URL(path, location.origin), { method, headers, body: JSON.stringify(body ?? {}),
    credentials: "same-origin" });
  if (!resp.ok) {
    const data = await resp.json().catch(() => ({}));
    if (resp.status === 401) onUnauthorized();
    const detail = Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ") : data.detail;
    throw new ApiError(resp.status, detail || resp.statusText, resp.headers.get("Retry-After"), data);
  }
  return { blob: await resp.blob(), headers: resp.headers };
}

// A text body (a CSV file to import) instead of JSON; the answer is JSON as with `api`.
export async function apiText(path, text, contentType = "text/csv") {
  const headers = { Accept: "application/json", "Content-Type": contentType };
  if (csrf) headers["X-CSRF-Token"] = csrf;
  const resp = await fetch(new URL(path, location.origin), { method: "POST", headers, body: text, credentials: "same-origin" });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    if (resp.status === 401) onUnauthorized();
    const detail = Array.isArray(data.problems) && data.problems.length ? `${data.detail}: ${data.problems.slice(0, 5).join("; ")}`
      : Array.isArray(data.detail) ? data.detail.map((d) => d.msg).join("; ") : data.detail;
    throw new ApiError(resp.status, detail || resp.statusText, resp.headers.get("Retry-After"), data);
  }
  return data;
}
