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

/** The shortest credential (userinfo, query value, header value) hidden in a provider's text: shorter ones are words. */
export const minHiddenChars = 6

/**
 * `text` (what a provider said) with every part of the endpoint's URL and headers that can hold its key shown as
 * `…`: the URL whole; its userinfo, its query and the query's values, each header's value, of `minHiddenChars` or
 * more; its path segments and the words of a header's value (`Bearer <token>`) as long as a key (more than
 * `maxShownSegment` characters: shorter ones, `v3` or `eth`, are words of the text too). A provider may echo them.
 */
export const redact = (text: string, url: string, headers: Readonly<Record<string, string>> = {}): string => {
  const credentials = [url, ...Object.values(headers)]
  const long: Array<string> = []
  if (URL.canParse(url)) {
    const parsed = new URL(url)
    credentials.push(parsed.username, parsed.password, parsed.search.slice(1), ...parsed.searchParams.values())
    long.push(...parsed.pathname.split("/"))
  }
  for (const value of Object.values(headers)) long.push(...value.split(/\s+/))
  const secrets = credentials.filter((part) => part.length >= minHiddenChars)
    .concat(long.filter((part) => part.length > maxShownSegment))
    .sort((a, b) => b.length - a.length)
  return secrets.reduce((shown, secret) => shown.split(secret).join("…"), text)
}
