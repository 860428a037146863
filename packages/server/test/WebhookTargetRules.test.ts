/**
 * The rest of a webhook URL's rules, beside the private-range properties of
 * `WebhookTarget.test.ts`: the length limit at its exact edge, each other
 * refusal (scheme, credentials, not a URL) with the URL it names, the edges
 * of the private IPv4 and IPv6 ranges (the first public address on either
 * side is accepted), and hosts written in capitals or with a trailing dot.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as WebhookTarget from "../src/WebhookTarget.ts"

const rules: WebhookTarget.TargetRules = { signing: true, allowHosts: [] }

/** The reason a URL is refused for, or `accepted`. */
const verdict = (url: string, given: WebhookTarget.TargetRules = rules): string => {
  const checked = WebhookTarget.check(given, url)
  return checked instanceof URL ? "accepted" : checked.reason
}

/** An https URL of exactly `length` characters on a public host. */
const urlOfLength = (length: number) => {
  const head = "https://hooks.example.com/"
  return head + "a".repeat(length - head.length)
}

describe("WebhookTarget rules", () => {
  it.prop(
    "a URL of up to maxUrlLength characters is accepted; a longer one is refused as too-long, named by its first maxUrlLength characters",
    { extra: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3000 })) },
    ({ extra }) => {
      assert.strictEqual(verdict(urlOfLength(WebhookTarget.maxUrlLength - (extra % 100))), "accepted")
      const long = urlOfLength(WebhookTarget.maxUrlLength + 1 + extra)
      const refused = WebhookTarget.check(rules, long) as WebhookTarget.WebhookRefused
      assert.strictEqual(refused.reason, "too-long")
      assert.strictEqual(refused.url, long.slice(0, WebhookTarget.maxUrlLength))
    }
  )

  it("without a signing secret every URL is refused as not-configured, before any other rule", () => {
    for (const url of ["https://hooks.example.com/", "not a url", "ftp://example.com/", urlOfLength(WebhookTarget.maxUrlLength + 1)]) {
      assert.strictEqual(verdict(url, { signing: false, allowHosts: ["example.com"] }), "not-configured", url)
    }
  })

  it("a URL that is not http(s), carries credentials or does not parse is refused for that reason, naming the URL", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["ftp://hooks.example.com/x", "scheme"],
      ["file:///etc/passwd", "scheme"],
      ["javascript:alert(1)", "scheme"],
      ["https://user@hooks.example.com/", "credentials"],
      ["https://:secret@hooks.example.com/", "credentials"],
      ["https://user:secret@hooks.example.com/", "credentials"],
      ["hooks.example.com/x", "invalid-url"],
      ["http://", "invalid-url"],
      ["", "invalid-url"]
    ]
    for (const [url, reason] of cases) {
      const refused = WebhookTarget.check(rules, url)
      assert.instanceOf(refused, WebhookTarget.WebhookRefused, url)
      assert.deepStrictEqual([(refused as WebhookTarget.WebhookRefused).reason, (refused as WebhookTarget.WebhookRefused).url], [reason, url])
    }
    assert.strictEqual(verdict("http://hooks.example.com/"), "accepted")
  })

  it("the first public IPv4 address on either side of each private range is accepted", () => {
    const edges: ReadonlyArray<readonly [string, string]> = [
      ["9.255.255.255", "accepted"], ["10.0.0.0", "private-host"], ["10.255.255.255", "private-host"], ["11.0.0.0", "accepted"],
      ["126.255.255.255", "accepted"], ["127.0.0.1", "private-host"], ["128.0.0.0", "accepted"],
      ["0.0.0.0", "private-host"], ["1.0.0.0", "accepted"],
      ["172.15.255.255", "accepted"], ["172.16.0.0", "private-host"], ["172.31.255.255", "private-host"], ["172.32.0.0", "accepted"],
      ["192.167.255.255", "accepted"], ["192.168.0.0", "private-host"], ["192.169.0.0", "accepted"], ["193.168.0.1", "accepted"],
      ["169.253.255.255", "accepted"], ["169.254.0.0", "private-host"], ["169.255.0.0", "accepted"], ["170.254.0.1", "accepted"],
      ["100.63.255.255", "accepted"], ["100.64.0.0", "private-host"], ["100.127.255.255", "private-host"], ["100.128.0.0", "accepted"],
      ["99.64.0.1", "accepted"], ["101.64.0.1", "accepted"], ["173.16.0.1", "accepted"], ["171.16.0.1", "accepted"]
    ]
    for (const [host, expected] of edges) {
      assert.strictEqual(verdict(`http://${host}/hook`), expected, host)
      assert.strictEqual(verdict(`http://[::ffff:${host}]/hook`), expected, `[::ffff:${host}]`)
    }
  })

  it("the edges of the IPv6 loopback, unspecified, unique-local and link-local ranges", () => {
    const edges: ReadonlyArray<readonly [string, string]> = [
      ["::", "private-host"], ["::1", "private-host"], ["::2", "accepted"], ["::1:0", "accepted"], ["1::1", "accepted"],
      ["0:0:0:0:0:0:0:1", "private-host"], ["0:0:0:0:0:1:0:1", "accepted"],
      ["fbff:ffff::1", "accepted"], ["fc00::", "private-host"], ["fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "private-host"], ["fe00::1", "accepted"],
      ["fe7f:ffff::1", "accepted"], ["fe80::", "private-host"], ["febf:ffff::1", "private-host"], ["fec0::1", "accepted"],
      ["::fffe:a00:1", "accepted"], ["0:0:0:0:1:ffff:a00:1", "accepted"], ["1:0:0:0:0:ffff:a00:1", "accepted"],
      ["::ffff:b00:1", "accepted"], ["::ffff:a00:1", "private-host"],
      ["2001:db8:0:0:1:0:0:1", "accepted"]
    ]
    for (const [host, expected] of edges) assert.strictEqual(verdict(`http://[${host}]/hook`), expected, host)
  })

  it("a private host written in capitals or with a trailing dot is still refused; the allow-list matches regardless of case", () => {
    for (const url of ["http://LOCALHOST/", "http://localhost./", "http://Hooks.LocalHost/", "http://127.0.0.1./", "http://[FE80::1]/", "http://[::FFFF:7F00:1]/"]) {
      assert.strictEqual(verdict(url), "private-host", url)
    }
    assert.strictEqual(verdict("http://localhost.example.com/"), "accepted")
    // A name is checked as written, not resolved: one that starts like a private address is a name.
    assert.strictEqual(verdict("http://10.0.0.1.nip.io/"), "accepted")
    assert.strictEqual(verdict("http://127.0.0.1.example.com:8080/"), "accepted")
    assert.strictEqual(verdict("http://mylocalhost/"), "accepted")
    assert.strictEqual(verdict("http://LOCALHOST:8080/", { signing: true, allowHosts: ["LocalHost:8080"] }), "accepted")
    assert.strictEqual(verdict("http://localhost:8080/", { signing: true, allowHosts: ["LOCALHOST"] }), "accepted")
    assert.strictEqual(verdict("http://localhost:8081/", { signing: true, allowHosts: ["localhost:8080"] }), "private-host")
  })
})
