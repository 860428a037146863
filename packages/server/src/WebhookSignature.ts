/**
 * How a webhook delivery is signed, so that its receiver knows it came from
 * this service and was not replayed later. Each POST carries
 *
 * - `Chainjobs-Signature: t=<unix seconds>,v1=<hex>`: `v1` is the
 *   HMAC-SHA256, keyed with the service's webhook secret, of the string
 *   `<t>.<raw body>`;
 * - `Chainjobs-Delivery`: the delivery's id, the same on every attempt (a
 *   receiver that acknowledged it ignores repeats);
 * - `Chainjobs-Attempt`: 1 on the first attempt, then 2, 3...;
 * - `Chainjobs-Task-Id`: the task the record is of.
 *
 * A receiver recomputes the HMAC over the raw body it got, compares it in
 * constant time, and refuses a timestamp older than its tolerance (`verify`
 * does this; `@chainjobs/client` has the same check for non-Effect programs).
 *
 * @since 0.1.0
 */
import { createHmac, timingSafeEqual } from "node:crypto"

/** The header carrying the timestamp and the signature. */
export const signatureHeader = "chainjobs-signature"
/** The header carrying the delivery's id. */
export const deliveryHeader = "chainjobs-delivery"
/** The header carrying the attempt's number. */
export const attemptHeader = "chainjobs-attempt"
/** The header carrying the task's id. */
export const taskHeader = "chainjobs-task-id"

/** How old a signed timestamp `verify` accepts by default, in seconds. */
export const defaultToleranceSeconds = 300

/** The hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`. */
export const digest = (secret: string, timestamp: number, body: string): string =>
  createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")

/** The `Chainjobs-Signature` value of a body sent at `timestamp` (unix seconds). */
export const sign = (secret: string, timestamp: number, body: string): string =>
  `t=${timestamp},v1=${digest(secret, timestamp, body)}`

/** Whether a `Chainjobs-Signature` value signs `body` under `secret`, at most `toleranceSeconds` before `nowSeconds`. */
export const verify = (
  secret: string,
  header: string,
  body: string,
  nowSeconds: number,
  toleranceSeconds: number = defaultToleranceSeconds
): boolean => {
  const fields = new Map(header.split(",").map((field) => {
    const at = field.indexOf("=")
    return [field.slice(0, at).trim(), field.slice(at + 1).trim()] as const
  }))
  const timestamp = Number(fields.get("t"))
  const given = fields.get("v1")
  if (!Number.isSafeInteger(timestamp) || given === undefined || !/^[0-9a-f]{64}$/.test(given)) return false
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return false
  return timingSafeEqual(Buffer.from(digest(secret, timestamp, body), "hex"), Buffer.from(given, "hex"))
}
