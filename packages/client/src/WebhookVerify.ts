/**
 * Checks a webhook delivery of a chainjobs service, in Node or a browser
 * (WebCrypto; no dependency): the `Chainjobs-Signature` header
 * (`t=<unix seconds>,v1=<hex>`) must hold the HMAC-SHA256, under the shared
 * secret, of `<t>.<raw body>`, and `t` must be within the tolerance of now.
 * Verify the raw body as received, before parsing it.
 *
 * @since 0.1.0
 */

/** The header carrying the timestamp and the signature. */
export const signatureHeader = "chainjobs-signature"
/** The header carrying the delivery's id: the same on every attempt, so a receiver can ignore repeats. */
export const deliveryHeader = "chainjobs-delivery"

/** How far a signed timestamp may be from now by default, in seconds. */
export const defaultToleranceSeconds = 300

const hex = (bytes: ArrayBuffer): string => Array.from(new Uint8Array(bytes), (byte) => byte.toString(16).padStart(2, "0")).join("")

/** Compares two strings in time that depends only on their length. */
const sameText = (a: string, b: string): boolean => {
  if (a.length !== b.length) return false
  let difference = 0
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i)
  return difference === 0
}

/** Whether `signature` (the `Chainjobs-Signature` value) signs `rawBody` under `secret`, recently enough. */
export const verifyWebhook = async (
  secret: string,
  signature: string | null | undefined,
  rawBody: string,
  options: { readonly toleranceSeconds?: number; readonly nowSeconds?: number } = {}
): Promise<boolean> => {
  if (typeof signature !== "string") return false
  const fields = new Map(signature.split(",").map((field) => {
    const at = field.indexOf("=")
    return [field.slice(0, at).trim(), field.slice(at + 1).trim()] as const
  }))
  const timestamp = Number(fields.get("t"))
  const given = fields.get("v1")
  if (!Number.isSafeInteger(timestamp) || given === undefined || !/^[0-9a-f]{64}$/.test(given)) return false
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000)
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? defaultToleranceSeconds)) return false
  const encoder = new TextEncoder()
  const key = await globalThis.crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
  const expected = hex(await globalThis.crypto.subtle.sign("HMAC", key, encoder.encode(`${timestamp}.${rawBody}`)))
  return sameText(expected, given)
}
