/* JSON requests to the server's API. `api` sends a method, URL and optional JSON body and
 * returns the decoded answer; a failed request throws an Error whose message is the server's
 * `detail` (422 lists joined with "; ") and whose `status` is the HTTP status. */

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
    throw err;
  }
  return data;
}
