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
 * constant time, and refuses a timestamp too far from now: `verifyWebhook`
 * of `@chainjobs/client` does this, in Node and in browsers.
 *
 * @since 0.1.0
 */
import { createHmac } from "node:crypto"

/** The header carrying the timestamp and the signature. */
export const signatureHeader = "chainjobs-signature"
/** The header carrying the delivery's id. */
export const deliveryHeader = "chainjobs-delivery"
/** The header carrying the attempt's number. */
export const attemptHeader = "chainjobs-attempt"
/** The header carrying the task's id. */
export const taskHeader = "chainjobs-task-id"

/** The hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`. */
export const digest = (secret: string, timestamp: number, body: string): string =>
  createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")

/** The `Chainjobs-Signature` value of a body sent at `timestamp` (unix seconds). */
export const sign = (secret: string, timestamp: number, body: string): string =>
  `t=${timestamp},v1=${digest(secret, timestamp, body)}`
