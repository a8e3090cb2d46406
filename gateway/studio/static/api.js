// The JSON API as the pages call it: the session cookie authenticates, writes echo the
// CSRF cookie in X-CSRF-Token, and a refusal becomes an ApiError carrying the API's detail.

/** An answer outside 2xx: `status` (0 when the connection is lost), the server's text, and
 * its whole JSON `body` (a refusal's `details`, e.g. the offending items). */
export class ApiError extends Error {
  constructor(status, detail, body = null) {
    super(detail);
    this.status = status;
    this.body = body;
  }
}

function csrf() {
  const cookie = document.cookie.split("; ").find((c) => c.startsWith("clf_csrf="));
  return cookie ? decodeURIComponent(cookie.slice("clf_csrf=".length)) : "";
}

/** The detail of a 4xx answer, with the broken rules of a 422. */
function detailOf(answer, status) {
  if (!answer || typeof answer !== "object") return `The server answered ${status}.`;
  const rules = (answer.errors || []).map((e) => `${e.field} ${e.rule}`).join("; ");
  const detail = answer.detail || `The server answered ${status}.`;
  return rules ? `${detail}: ${rules}` : detail;
}

/**
 * @param {string} method
 * @param {string} path under /api/v1
 * @param {any} [body] sent as JSON
 * @returns {Promise<any>} the JSON answer (null for 204); rejects with ApiError
 */
export async function api(method, path, body) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET") headers["X-CSRF-Token"] = csrf();
  let r;
  try {
    r = await fetch("/api/v1" + path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "The connection to the server is lost; your last action may not be saved. Retry when it is back.");
  }
  if (r.status === 401 && path !== "/session") {
    location.assign("/sign-in?next=" + encodeURIComponent(location.pathname));
    throw new ApiError(401, "Your session has ended: sign in again.");
  }
  const answer = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, detailOf(answer, r.status), answer);
  return answer;
}

let toastTimer = 0;

/** Show `text` in the page's alert region (errors stay until replaced). */
export function toast(text, kind = "error") {
  const box = document.getElementById("toast");
  box.textContent = text;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toastTimer);
  if (kind !== "error") toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
}

export function clearToast() {
  document.getElementById("toast").hidden = true;
}

/** A DOM element: el("li", {class: "x", onclick: f}, child, "text"). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "style") node.style.cssText = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}
