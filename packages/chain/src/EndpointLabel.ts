/**
 * How an endpoint is named wherever it is shown: in a request's error (and
 * so in a task's error, which its principal reads), in logs, in the
 * `endpoint` attribute of the pool metrics, in `GET /api/chains` and the
 * Sui networks listing. Providers put the API key in the URL — a path
 * segment (`/v3/<key>`, `/<token>/`), the query (`?apikey=`) or the
 * userinfo — so the label is the URL without what can hold one: the
 * scheme, host and port; the path as given, its segments of at most 15
 * characters (`v3`, `eth`, `rpc`) as they are, longer ones as `…`; a query as
 * `?…`; userinfo as `…@`; no fragment. The URL itself is used only to connect and as the circuit
 * breaker's key.
 *
 * Two endpoints of one network whose labels are the same (one host, two
 * keys) are told apart by their place in the list (`#2`), so their errors,
 * metrics and listing rows stay distinct.
 *
 * @since 0.1.0
 */

/** The longest path segment shown as it is: provider keys and tokens are longer (20–64 characters). */
export const maxShownSegment = 15

/** The label of one endpoint URL (a string that is not a URL is shown as `…`: it may be a key itself). */
export const label = (url: string): string => {
  if (!URL.canParse(url)) return "…"
  const parsed = new URL(url)
  const userinfo = parsed.username === "" && parsed.password === "" ? "" : "…@"
  // a URL given without a path (`http://host:8545`) is shown without one, though the parsed URL has "/"
  const typedPath = url.indexOf("/", url.indexOf("//") + 2) >= 0
  const path = parsed.pathname.split("/").map((segment) => segment.length > maxShownSegment ? "…" : segment).join("/")
  return `${parsed.protocol}//${userinfo}${parsed.host}${typedPath ? path : ""}${parsed.search === "" ? "" : "?…"}`
}

/** The labels of a network's endpoint URLs, in order: a label that two of them share gets its 1-based place (` #2`). */
export const labels = (urls: ReadonlyArray<string>): ReadonlyArray<string> => {
  const plain = urls.map(label)
  return plain.map((shown, index) => plain.indexOf(shown) === plain.lastIndexOf(shown) ? shown : `${shown} #${index + 1}`)
}
