/**
 * How large and how deeply nested a payload may be: one limit for every
 * surface that takes task payloads (REST, RPC over HTTP and WebSocket).
 * Deeply nested JSON is refused before anything recurses over it — encoding,
 * decoding or storing a 10,000-level document overflows the stack — so both
 * checks here run without recursion: `measure` over a decoded value,
 * `scanText` over JSON text at the door, before it is parsed.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { PayloadTooDeep, PayloadTooLarge, refuse, type TaskAccessError } from "./TaskAccessError.ts"

/** The limits of a payload. */
export interface PayloadLimit {
  /** The largest payload accepted, in bytes of JSON. Default: 65536 (64 KiB). */
  readonly maxBytes: number
  /** The deepest nesting of arrays and objects accepted (`{}` is 1, `{"a":[]}` is 2). Default: 32. */
  readonly maxDepth: number
}

/** The defaults of `PayloadLimit`. */
export const defaults: PayloadLimit = {
  maxBytes: 64 * 1024,
  maxDepth: 32
}

/**
 * The nesting depth of a JSON-like value, counting no further than `limit + 1`
 * (a deeper value is refused whatever its exact depth). Iterative: safe on any
 * depth.
 */
export const depthOf = (value: unknown, limit: number): number => {
  let deepest = 0
  const stack: Array<readonly [unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!
    if (current === null || typeof current !== "object") continue
    if (depth > deepest) deepest = depth
    if (deepest > limit) return deepest
    const children = Array.isArray(current) ? current : Object.values(current)
    for (const child of children) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1])
    }
  }
  return deepest
}

/**
 * The nesting depth of JSON text, counting brackets outside strings, no
 * further than `limit + 1`. It does not validate the text: a parser does that
 * afterwards, once the depth is known to be safe.
 */
export const textDepthOf = (text: string, limit: number): number => {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++ // backslash: skip the escaped character
      else if (c === 34) inString = false
    } else if (c === 34) {
      inString = true
    } else if (c === 123 || c === 91) {
      depth++
      if (depth > deepest) {
        deepest = depth
        if (deepest > limit) return deepest
      }
    } else if (c === 125 || c === 93) {
      depth--
    }
  }
  return deepest
}

/** The refusal of a decoded payload nested deeper than `maxDepth`, or undefined when it is not. */
export const tooDeep = (maxDepth: number, payload: unknown): TaskAccessError | undefined => {
  const depth = depthOf(payload, maxDepth)
  return depth > maxDepth ? refuse(new PayloadTooDeep({ depth, limit: maxDepth })) : undefined
}

/** Refuses a decoded payload deeper or larger than `limit`. */
export const check = (limit: PayloadLimit, payload: unknown): Effect.Effect<void, TaskAccessError> =>
  Effect.suspend(() => {
    const deep = tooDeep(limit.maxDepth, payload)
    if (deep !== undefined) return Effect.fail(deep)
    const size = Buffer.byteLength(JSON.stringify(payload) ?? "null")
    return size > limit.maxBytes ? Effect.fail(refuse(new PayloadTooLarge({ size, limit: limit.maxBytes }))) : Effect.void
  })

/**
 * Refuses JSON text nested deeper than `maxDepth` (plus `envelope` levels the
 * transport wraps payloads in), before it is parsed.
 */
export const scanText = (maxDepth: number, text: string, envelope = 0): TaskAccessError | undefined => {
  const limit = maxDepth + envelope
  const depth = textDepthOf(text, limit)
  return depth > limit ? refuse(new PayloadTooDeep({ depth: depth - envelope, limit: maxDepth })) : undefined
}
