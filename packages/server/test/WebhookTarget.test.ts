import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as WebhookSignature from "../src/WebhookSignature.ts"
import * as WebhookTarget from "../src/WebhookTarget.ts"

const rules: WebhookTarget.TargetRules = { signing: true, allowHosts: [] }
const int = (minimum: number, maximum: number) => Schema.Int.check(Schema.isBetween({ minimum, maximum }))
const byte = int(0, 255)

/** The first two bytes of each range of loopback, private, link-local, carrier-grade NAT and "this" networks. */
const privateRanges: ReadonlyArray<(second: number) => readonly [number, number]> = [
  (b) => [127, b],
  (b) => [10, b],
  (b) => [0, b],
  (b) => [172, 16 + (b % 16)],
  () => [192, 168],
  () => [169, 254],
  (b) => [100, 64 + (b % 64)]
]

/** A private IPv4 address, from a range index and three bytes. */
const PrivateIpv4 = { range: int(0, privateRanges.length - 1), b: byte, c: byte, d: byte }
const privateIpv4 = ({ range, b, c, d }: { range: number; b: number; c: number; d: number }) =>
  [...privateRanges[range](b), c, d].join(".")

/** First bytes of public IPv4 addresses: outside every private range. */
const publicFirstBytes = Array.from({ length: 223 }, (_, i) => i + 1).filter((a) => ![10, 100, 127, 169, 172, 192].includes(a))

describe("WebhookTarget", () => {
  it.prop("a private IPv4 host is refused, written plainly or IPv4-mapped", PrivateIpv4, (address) => {
    const host = privateIpv4(address)
    for (const url of [`http://${host}/hook`, `https://${host}:8443/x`, `http://[::ffff:${host}]/hook`]) {
      const checked = WebhookTarget.check(rules, url)
      assert.instanceOf(checked, WebhookTarget.WebhookRefused, url)
      assert.strictEqual((checked as WebhookTarget.WebhookRefused).reason, "private-host")
    }
  })

  it.prop("a public IPv4 host is accepted", { first: int(0, publicFirstBytes.length - 1), b: byte, c: byte, d: byte }, ({ first, b, c, d }) => {
    const host = [publicFirstBytes[first], b, c, d].join(".")
    assert.instanceOf(WebhookTarget.check(rules, `https://${host}/hook`), URL)
  })

  it.prop("an allowed private host is accepted, by host or by host:port", { ...PrivateIpv4, port: int(1, 65535) }, ({ port, ...address }) => {
    const host = privateIpv4(address)
    assert.instanceOf(WebhookTarget.check({ signing: true, allowHosts: [host] }, `http://${host}:${port}/hook`), URL)
    assert.instanceOf(WebhookTarget.check({ signing: true, allowHosts: [`${host}:${port}`] }, `http://${host}:${port}/hook`), URL)
    if (port !== 80) {
      assert.instanceOf(WebhookTarget.check({ signing: true, allowHosts: [`${host}:80`] }, `http://${host}:${port}/hook`), WebhookTarget.WebhookRefused)
    }
  })

  it("IPv6 loopback, unique-local and link-local hosts are refused; a public one is accepted", () => {
    for (const host of ["[::1]", "[::]", "[fd00::1]", "[fc12:3456::9]", "[fe80::1]", "localhost", "api.localhost"]) {
      assert.strictEqual((WebhookTarget.check(rules, `http://${host}/`) as WebhookTarget.WebhookRefused).reason, "private-host", host)
    }
    assert.instanceOf(WebhookTarget.check(rules, "https://[2606:4700::1111]/hook"), URL)
    assert.instanceOf(WebhookTarget.check(rules, "https://hooks.example.com/hook"), URL)
  })

  it("the refusal's message says why", () => {
    const refused = WebhookTarget.check({ signing: false, allowHosts: [] }, "https://example.com/")
    assert.strictEqual((refused as WebhookTarget.WebhookRefused).reason, "not-configured")
    assert.include((refused as WebhookTarget.WebhookRefused).message, "CHAINJOBS_WEBHOOK_SECRET")
  })
})

describe("WebhookSignature", () => {
  it.prop("a signature covers the timestamp and the body: another body, key or time signs differently", { body: Schema.String, key: Schema.NonEmptyString, other: Schema.String }, ({ body, key, other }) => {
    const now = 1_800_000_000
    const header = WebhookSignature.sign(key, now, body)
    assert.match(header, /^t=1800000000,v1=[0-9a-f]{64}$/)
    // Strings with lone surrogates can share one UTF-8 encoding: only a different body on the wire signs differently.
    if (Buffer.compare(Buffer.from(other), Buffer.from(body)) !== 0) assert.notStrictEqual(WebhookSignature.sign(key, now, other), header)
    assert.notStrictEqual(WebhookSignature.sign(`${key}x`, now, body), header)
    assert.notStrictEqual(WebhookSignature.sign(key, now + 1, body), header)
  })
})
