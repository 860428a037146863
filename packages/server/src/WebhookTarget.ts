/**
 * Which URLs a submission may name as its webhook, and the typed refusal of
 * the others. A webhook URL is `http:` or `https:`, at most `maxUrlLength`
 * characters, without credentials, and names a public host: `localhost`,
 * loopback, private, link-local, carrier-grade NAT and unspecified addresses
 * (IPv4 and IPv6, IPv4-mapped included) are refused unless their host (or
 * `host:port`) is on the service's allow-list (`CHAINJOBS_WEBHOOK_ALLOW_HOSTS`),
 * so that a caller cannot make the service post into its own network. Only
 * the address as written is checked: a public name that resolves to a
 * private address is not (the service does not resolve names up front).
 * Without a signing secret the service takes no webhooks at all.
 *
 * @since 0.1.0
 */
import { SubmitWebhooks } from "@chainjobs/tasks"

/** The longest webhook URL accepted, in characters. */
export const maxUrlLength = 2048

/** The refusal of a URL (`SubmitWebhooks.WebhookRefused` of `@chainjobs/tasks`, where every transport meets it). */
export const WebhookRefused = SubmitWebhooks.WebhookRefused
/** @see WebhookRefused */
export type WebhookRefused = SubmitWebhooks.WebhookRefused

/** The four bytes of a dotted IPv4 address, or undefined. */
const ipv4 = (host: string): ReadonlyArray<number> | undefined => {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host)
  if (match === null) return undefined
  const bytes = match.slice(1).map(Number)
  return bytes.every((byte) => byte <= 255) ? bytes : undefined
}

const privateIpv4 = ([a, b]: ReadonlyArray<number>): boolean =>
  a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) ||
  (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127)

/** The eight 16-bit groups of an IPv6 address (as the URL parser normalizes it, without brackets), or undefined. */
const ipv6 = (host: string): ReadonlyArray<number> | undefined => {
  if (!host.includes(":")) return undefined
  const [head, tail] = host.includes("::") ? host.split("::") : [host, undefined]
  const parse = (part: string) => part === "" ? [] : part.split(":").map((group) => parseInt(group, 16))
  const front = parse(head)
  const back = tail === undefined ? [] : parse(tail)
  const groups = tail === undefined ? front : [...front, ...Array(8 - front.length - back.length).fill(0), ...back]
  return groups.length === 8 && groups.every((group) => Number.isInteger(group) && group >= 0 && group <= 0xffff)
    ? groups
    : undefined
}

const privateIpv6 = (groups: ReadonlyArray<number>): boolean => {
  const mapped = groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff
  if (mapped) return privateIpv4([groups[6] >> 8, groups[6] & 0xff])
  const unspecifiedOrLoopback = groups.slice(0, 7).every((group) => group === 0) && groups[7] <= 1
  return unspecifiedOrLoopback || (groups[0] & 0xfe00) === 0xfc00 || (groups[0] & 0xffc0) === 0xfe80
}

/** Whether a URL's host (as the URL parser gives it) names this machine or a private network. */
export const isPrivateHost = (hostname: string): boolean => {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "")
  if (host === "localhost" || host.endsWith(".localhost")) return true
  const v4 = ipv4(host)
  if (v4 !== undefined) return privateIpv4(v4)
  const v6 = ipv6(host)
  return v6 !== undefined && privateIpv6(v6)
}

/** What the service accepts: whether it can sign, and the private hosts it may call anyway. */
export interface TargetRules {
  readonly signing: boolean
  /** Hosts (`127.0.0.1`, `hooks.internal`) or `host:port`s accepted although private. */
  readonly allowHosts: ReadonlyArray<string>
}

/** The port a URL calls: its own, or its scheme's default, which `URL` leaves out of `port` and `host`. */
const portOf = (url: URL): string => url.port !== "" ? url.port : url.protocol === "https:" ? "443" : "80"

/** The URL to call, or why not. */
export const check = (rules: TargetRules, input: string): URL | WebhookRefused => {
  const refuse = (reason: SubmitWebhooks.RefusalReason) => new WebhookRefused({ url: input.slice(0, maxUrlLength), reason })
  if (!rules.signing) return refuse("not-configured")
  if (input.length > maxUrlLength) return refuse("too-long")
  let url: URL
  try {
    url = new URL(input)
  } catch {
    return refuse("invalid-url")
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return refuse("scheme")
  if (url.username !== "" || url.password !== "") return refuse("credentials")
  // `host:port` is matched against the port called, the scheme's default included (`10.0.0.5:80` allows
  // `http://10.0.0.5/` and `http://10.0.0.5:80/`, which `URL` reads as the same `host`, without the port)
  const hostname = url.hostname.toLowerCase()
  const allowed = rules.allowHosts.some((host) => {
    const wanted = host.toLowerCase()
    return wanted === hostname || wanted === `${hostname}:${portOf(url)}`
  })
  if (!allowed && isPrivateHost(url.hostname)) return refuse("private-host")
  return url
}
