// Calls to precinct's API: JSON in and out, and an error that carries the server's message and status.

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// A change made with the session cookie carries the session's CSRF token, which sign-in left in a readable cookie.
function csrfHeader(method) {
  if (method === "GET" || method === "HEAD") return {};
  const cookie = document.cookie.split("; ").find((part) => part.startsWith("precinct_csrf="));
  return cookie ? { "X-CSRF-Token": decodeURIComponent(cookie.slice("precinct_csrf=".length)) } : {};
}

export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const response = await fetch(path, {
    method,
    headers: {
      Accept: "application/json",
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...csrfHeader(method),
      ...headers,
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

// A key for one action, unique enough to make its retries harmless (Idempotency-Key).
export function newKey(prefix) {
  const random = crypto.getRandomValues(new Uint32Array(2));
  return `${prefix}-${Date.now().toString(36)}-${random[0].toString(36)}${random[1].toString(36)}`;
}
