import { describe, expect, it } from "@effect/vitest"
import { createHmac } from "node:crypto"
import { defaultToleranceSeconds, deliveryHeader, signatureHeader, verifyWebhook } from "../src/index.ts"

/** The signature header a sender computes: HMAC-SHA256 of `<t>.<body>` under `secret`, in hex (node:crypto, not the code under test). */
const signed = (secret: string, at: number, body: string): string => `t=${at},v1=${createHmac("sha256", secret).update(`${at}.${body}`).digest("hex")}`

const secret = "edge-secret"
const body = `{"id":"t1","status":"completed"}`
const at = 1_800_000_000

describe("verifyWebhook's edges", () => {
  it("names the headers and the default tolerance", () => {
    expect([signatureHeader, deliveryHeader, defaultToleranceSeconds]).toEqual(["chainjobs-signature", "chainjobs-delivery", 300])
  })

  it("refuses a missing or malformed header without throwing", async () => {
    const good = signed(secret, at, body)
    const v1 = good.slice(good.indexOf("v1=") + 3)
    for (const header of [null, undefined, "", "t=", `v1=${v1}`, `t=${at}`, `t=${at},v1=`, `t=${at}.5,v1=${v1}`, `t=x,v1=${v1}`, `t=${at},v1=${v1.toUpperCase()}`, `t=${at},v1=${v1}0`, `t=${at},v1=0${v1}`, `t=${at},v1=${v1.slice(1)}`, `t=${2 ** 53},v1=${v1}`]) {
      expect(await verifyWebhook(secret, header, body, { nowSeconds: at })).toBe(false)
    }
    expect(await verifyWebhook(secret, good, body, { nowSeconds: at })).toBe(true)
    // Signed as it reads, but not a whole number of seconds.
    for (const t of [at + 0.5, Number.NaN, 2 ** 53]) expect(await verifyWebhook(secret, signed(secret, t, body), body, { nowSeconds: at, toleranceSeconds: Infinity })).toBe(false)
  })

  it("takes the fields in any order, with spaces around them", async () => {
    const good = signed(secret, at, body)
    const [t, v1] = good.split(",")
    expect(await verifyWebhook(secret, ` ${v1} , ${t} `, body, { nowSeconds: at })).toBe(true)
    expect(await verifyWebhook(secret, `${t},v0=ab,${v1}`, body, { nowSeconds: at })).toBe(true)
  })

  it("accepts a timestamp up to the tolerance away, either side, and refuses one a second further", async () => {
    const good = signed(secret, at, body)
    for (const [now, tolerance, accepted] of [
      [at + 300, undefined, true],
      [at - 300, undefined, true],
      [at + 301, undefined, false],
      [at - 301, undefined, false],
      [at + 10, 10, true],
      [at - 11, 10, false],
      [at + 11, 10, false]
    ] as const) {
      const options = tolerance === undefined ? { nowSeconds: now } : { nowSeconds: now, toleranceSeconds: tolerance }
      expect([now - at, tolerance, await verifyWebhook(secret, good, body, options)]).toEqual([now - at, tolerance, accepted])
    }
  })

  it("reads now from the clock when not given", async () => {
    const now = Math.floor(Date.now() / 1000)
    expect(await verifyWebhook(secret, signed(secret, now, body), body)).toBe(true)
    expect(await verifyWebhook(secret, signed(secret, now - 3600, body), body)).toBe(false)
    expect(await verifyWebhook(secret, signed(secret, now + 3600, body), body)).toBe(false)
  })

  it("refuses a signature that differs in any one hex digit", async () => {
    const good = signed(secret, at, body)
    const v1 = good.slice(good.indexOf("v1=") + 3)
    for (let i = 0; i < v1.length; i++) {
      const other = v1[i] === "0" ? "1" : "0"
      const changed = `t=${at},v1=${v1.slice(0, i)}${other}${v1.slice(i + 1)}`
      expect(await verifyWebhook(secret, changed, body, { nowSeconds: at })).toBe(false)
    }
  })
})
