/* JSON requests to the server's API. `api` sends a method, URL and optional JSON body and
 * returns the decoded answer; a failed request throws an Error whose message is the server's
 * `detail` (422 lists joined with "; "), whose `status` is the HTTP status and whose `detail` is
 * the server's own. */

export async function api(method, url, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const detail = data && data.detail !== undefined ? data.detail : response.statusText;
    const message = Array.isArray(detail) ? detail.map((d) => d.msg).join("; ") : String(detail);
    const err = new Error(message || `HTTP ${response.status}`);
    err.status = response.status;
    err.detail = detail;  // a 422's items, for a form that shows them at their fields
    throw err;
  }
  return data;
}
