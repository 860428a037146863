/**
 * The door of the RPC transports: every ndjson line a client sends is checked
 * before `RpcServer` parses it, so that no client mistake reaches the
 * protocol loop as an untyped defect. A line must be a message of the
 * protocol (`Request`, `Ack`, `Interrupt`, `Ping`, `Eof`) with a well-formed
 * envelope — a string or number id, string header pairs — naming an RPC of
 * the group, its payload nested no deeper than the payload limit allows (for
 * a submission, the task payload it carries), every number in it finite (one
 * `JSON.parse` reads as infinite is no JSON: `1e400`); a payload the
 * RPC's Schema validates leniently passes (its handler's middleware answers
 * `MalformedRequest` for it), any other must decode here. Over HTTP no id may
 * repeat within one body.
 *
 * Over WebSocket and over HTTP the door hands the protocol the messages it
 * parsed (`Checked`, read by `serialization`), so a line is parsed once, not
 * once at the door and again by the protocol.
 */
import { Cause, Exit, Schema } from "effect"
import { Rpc, RpcSerialization } from "effect/rpc"
import { PayloadLimit, type TaskAccessError } from "@chainjobs/tasks"
import { MalformedRequest } from "../TaskRpcError.ts"
import { isLenient } from "./lenient.ts"

/**
 * Levels a line may nest beyond the payload limit before it is parsed: a
 * task payload sits in a submission, in the message (the headers' pairs
 * nest 3 levels, within that for any limit of 1 or more). Only a bound that
 * keeps the parse safe; the payload's own depth is measured exactly once
 * the line is parsed.
 */
const lineEnvelope = 2

/** Why a line or body was refused. */
export type Refusal = MalformedRequest | TaskAccessError.TaskAccessError

/** What the door knows of the group: its RPCs, and the deepest payload accepted. */
export interface Door {
  /** The deepest payload accepted (the line may nest a level more, its message; a submission two). */
  readonly maxDepth: number
  /**
   * Why `line` is refused, if it is; `seen` collects request ids to refuse one
   * used twice (over HTTP, per body); a line that passes is added to `passed`,
   * parsed, when given; `inFlight` (over WebSocket) refuses a request whose id
   * names a call still in flight on the connection, and holds the id of one
   * that passes until its answer is sent.
   */
  check(line: string, seen: Set<string | number> | undefined, passed?: Array<unknown>, inFlight?: InFlight): Refusal | undefined
  /**
   * `check` for a WebSocket line, with the connection's calls in flight: a refused request that names one call of
   * the group (a valid id not in flight, an RPC of the group, an answer awaited) is a `RefusedCall`, to fail alone;
   * any other refusal closes the socket.
   */
  checkSocket(line: string, passed: Array<unknown>, inFlight: InFlight): Refusal | RefusedCall | undefined
}

/**
 * A refused request that names one call of the group: its `Exit`, failed with the refusal and encoded with the
 * call's own exit schema (ndjson), answers it alone, and the connection goes on. A request under an id still in
 * flight is never one: the client would read its answer as the first call's (an id is the only correlation).
 */
export class RefusedCall {
  /** The call's `Exit` line, newline included. */
  readonly answer: string
  constructor(answer: string) {
    this.answer = answer
  }
}

/**
 * The ids of a WebSocket connection's calls in flight, as its client sent
 * them: an id is held from the line that passes the door until the call's
 * `Exit` is encoded (`serialization`). The RPC server meets a second request
 * under an id still in flight by interrupting the connection's whole message
 * loop — a close 1001 with no reason, every other call's answer lost — so the
 * door refuses it first, typed. A discarded call (`discard`) is answered at
 * once (an empty `Exit`) and runs on, its end never told: its id is held for
 * as long as the connection lasts, the latest `maxDiscarded` of them (a client
 * that numbers its calls, as Effect's does, never uses one again).
 * Notifications are not held: the server gives each an id of its own.
 */
export class InFlight {
  private readonly ids = new Set<string | number>()
  /** The ids of discarded calls, oldest first: any may still run. */
  private readonly discarded = new Set<string | number>()
  /** The most discarded calls' ids held; past it the oldest is let go. */
  static readonly maxDiscarded = 4096
  /** The refusal of `message` if it is a request under an id in flight; else holds a request's id. */
  admit(message: Record<string, unknown>): MalformedRequest | undefined {
    if (message._tag !== "Request" || message.isNotification === true) return undefined
    const id = message.id as string | number
    if (this.ids.has(id) || this.discarded.has(id)) {
      return new MalformedRequest({
        problem: "duplicate-id",
        rpc: message.tag as string,
        detail: `request id ${String(id)} is used again while its call is in flight`
      })
    }
    if (message.discard !== true) this.ids.add(id)
    else {
      this.discarded.add(id)
      if (this.discarded.size > InFlight.maxDiscarded) this.discarded.delete(this.discarded.values().next().value!)
    }
    return undefined
  }
  /** Whether a call under `id` is in flight (a discarded one included: it may still run). */
  has(id: string | number): boolean {
    return this.ids.has(id) || this.discarded.has(id)
  }
  /** Lets go of the id of a call whose answer is `message`, when it is an `Exit` (not a discarded call's). */
  answered(message: unknown): void {
    const m = message as { readonly _tag?: unknown; readonly requestId?: unknown } | null
    if (m?._tag === "Exit") this.ids.delete(m.requestId as string | number)
  }
}

const frame = (detail: string, rpc?: string) =>
  new MalformedRequest({ problem: "frame", detail, ...(rpc === undefined ? {} : { rpc }) })

const isId = (id: unknown): id is string | number =>
  typeof id === "string" || (typeof id === "number" && Number.isFinite(id))

const isHeaderPairs = (headers: unknown): boolean =>
  Array.isArray(headers) &&
  headers.every((pair) => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === "string" && typeof pair[1] === "string")

/**
 * Whether a line may hold a number past the largest double (about 1.8e308), which `JSON.parse` reads as infinite: a
 * digit with an exponent (`1e400`, or `1e99` after 250 digits), or 309 digits in a row. Most lines have neither, and
 * are not walked.
 */
const mayOverflow = /[0-9][eE][+]?[0-9]|[0-9]{309}/

/** Whether a parsed value is JSON: no number in it infinite. */
const isJson = Schema.is(Schema.Json)

/**
 * The refusal of a message holding an infinite number, as `JSON.parse` reads one out of range: not a JSON value. A
 * task payload would be stored with it as `null` (what `JSON.stringify` writes for it), not as it was sent; over REST
 * the same payload is refused as not JSON (400 `BadRequest`).
 */
const outOfRange = () => frame("a number is out of range: JSON numbers are finite, at most about 1.8e308")

const describe = (value: unknown): string => value === null ? "null" : Array.isArray(value) ? "an array" : typeof value

/** Whether a request's payload is no payload: absent, `null`, or an object with no key. */
const isNoPayload = (payload: unknown): boolean =>
  payload === undefined || payload === null ||
  (typeof payload === "object" && !Array.isArray(payload) && Object.keys(payload).length === 0)

/** The task payload a submission carries (its `payload` field; none when it is not an object that has one). */
const taskPayloadOf = (submission: unknown): unknown => (submission as { readonly payload?: unknown } | null | undefined)?.payload

/**
 * A door for the RPCs of `requests`, refusing payloads deeper than
 * `maxDepth`. For the RPCs named in `submissions` (whose payload is a
 * `SubmitRequest`) the limit holds for the task payload they carry, one
 * level further in, as it does when the task payload is sent alone (REST).
 */
export const make = (
  requests: ReadonlyMap<string, Rpc.AnyWithProps>,
  maxDepth: number,
  submissions: ReadonlySet<string> = new Set()
): Door => {
  /** The RPCs whose payload Schema refuses before the server decodes it: why a payload is not valid, if it is not. */
  const strict = new Map<string, (payload: unknown) => string | undefined>()
  /** The RPCs that take no payload (`Schema.Void`): a request of one carries none, `null` or `{}`, all the same. */
  const bare = new Set<string>()
  for (const [tag, rpc] of requests) {
    if (rpc.payloadSchema === Schema.Void) bare.add(tag)
    else if (!isLenient(rpc.payloadSchema)) {
      const decode = Schema.decodeUnknownExit(Schema.toCodecJson(rpc.payloadSchema as Schema.Codec<unknown, unknown>))
      strict.set(tag, (payload) => {
        const exit = decode(payload)
        if (Exit.isSuccess(exit)) return undefined
        const error = Cause.squash(exit.cause)
        return error instanceof Error ? error.message.replaceAll("\n", " ") : String(error)
      })
    }
  }
  const checkMessage = (message: unknown, seen: Set<string | number> | undefined): Refusal | undefined => {
    if (message === null || typeof message !== "object" || Array.isArray(message)) {
      return frame(`a message must be a JSON object, not ${describe(message)}`)
    }
    const m = message as Record<string, unknown>
    switch (m._tag) {
      case "Ping":
      case "Eof":
        return undefined
      case "Ack":
      case "Interrupt":
        return isId(m.requestId) ? undefined : frame(`${m._tag}.requestId must be a string or a number`)
      case "Request": {
        const tag = typeof m.tag === "string" ? m.tag : undefined
        if (tag === undefined) return frame("Request.tag must be a string")
        if (!isId(m.id)) return frame("Request.id must be a string or a number", tag)
        if (!isHeaderPairs(m.headers)) return frame("Request.headers must be an array of [name, value] string pairs", tag)
        for (const key of ["traceId", "spanId"] as const) {
          if (m[key] !== undefined && typeof m[key] !== "string") return frame(`Request.${key} must be a string`, tag)
        }
        if (m.sampled !== undefined && typeof m.sampled !== "boolean") return frame("Request.sampled must be a boolean", tag)
        if (m.isNotification !== undefined && m.isNotification !== true) return frame("Request.isNotification must be true", tag)
        if (m.discard !== undefined && m.discard !== true) return frame("Request.discard must be true", tag)
        if (!requests.has(tag)) return new MalformedRequest({ problem: "unknown-rpc", rpc: tag, detail: `no RPC is named "${tag}"` })
        const deep = PayloadLimit.tooDeep(maxDepth, submissions.has(tag) ? taskPayloadOf(m.payload) : m.payload)
        if (deep !== undefined) return deep
        if (bare.has(tag)) {
          if (!isNoPayload(m.payload)) {
            return new MalformedRequest({ problem: "payload", rpc: tag, detail: `${tag} takes no payload (none, null or {})` })
          }
          // as the server's codec of no payload reads it
          m.payload = null
        }
        const invalid = strict.get(tag)?.(m.payload)
        if (invalid !== undefined) return new MalformedRequest({ problem: "payload", rpc: tag, detail: `${tag}'s payload: ${invalid}` })
        if (seen !== undefined) {
          if (seen.has(m.id)) {
            return new MalformedRequest({ problem: "duplicate-id", rpc: tag, detail: `request id ${String(m.id)} is used twice` })
          }
          seen.add(m.id)
        }
        return undefined
      }
      default:
        return frame(`unknown message type ${JSON.stringify(typeof m._tag === "string" ? m._tag : describe(m._tag))}`)
    }
  }
  /** The message the last line checked parsed to (undefined if it did not parse): read by `checkSocket` at once. */
  let parsed: unknown
  /** Why `line` is refused, if it is (see `Door.check`); its message, if it parsed, is left in `parsed`. */
  const checkLine = (
    line: string,
    seen: Set<string | number> | undefined,
    passed: Array<unknown> | undefined,
    inFlight: InFlight | undefined
  ): Refusal | undefined => {
    parsed = undefined
    const tooDeep = PayloadLimit.scanText(maxDepth, line, lineEnvelope)
    if (tooDeep !== undefined) return tooDeep
    let message: unknown
    try {
      message = JSON.parse(line)
    } catch (cause) {
      return frame(`not JSON: ${(cause as Error).message}`)
    }
    parsed = message
    // After the message's own checks, which name an infinite id more precisely.
    const refusal = checkMessage(message, seen) ?? (mayOverflow.test(line) && !isJson(message) ? outOfRange() : undefined) ??
      inFlight?.admit(message as Record<string, unknown>)
    if (refusal === undefined) passed?.push(message)
    return refusal
  }
  const exitEncoders = new Map<string, (exit: Exit.Exit<unknown, unknown>) => unknown>()
  /** The encoder of `tag`'s exits (ndjson: JSON), made once per RPC. */
  const encoderOf = (tag: string, rpc: Rpc.AnyWithProps) => {
    let encode = exitEncoders.get(tag)
    if (encode === undefined) {
      encode = Schema.encodeUnknownSync(Schema.toCodecJson(Rpc.exitSchema(rpc) as unknown as Schema.Codec<unknown, unknown>))
      exitEncoders.set(tag, encode)
    }
    return encode
  }
  /**
   * `refusal` of `message` as one call's failure, if it names one call of the group whose answer is awaited and no
   * call in flight has its id (the client would read the answer as that call's).
   */
  const refusedCall = (message: unknown, refusal: Refusal, inFlight: InFlight): RefusedCall | undefined => {
    const m = message as Record<string, unknown> | null | undefined
    if (m?._tag !== "Request" || !isId(m.id) || typeof m.tag !== "string" || inFlight.has(m.id)) return undefined
    if (m.isNotification === true || m.discard === true) return undefined
    const rpc = requests.get(m.tag)
    if (rpc === undefined) return undefined
    try {
      const exit = encoderOf(m.tag, rpc)(Exit.fail(refusal))
      return new RefusedCall(`${JSON.stringify({ _tag: "Exit", requestId: m.id, exit })}\n`)
    } catch {
      // A refusal the call's exit schema cannot carry: the socket closes with it, as for any other.
      return undefined
    }
  }
  return {
    maxDepth,
    check: checkLine,
    checkSocket: (line, passed, inFlight) => {
      const refusal = checkLine(line, undefined, passed, inFlight)
      return refusal === undefined ? undefined : refusedCall(parsed, refusal, inFlight) ?? refusal
    }
  }
}

/**
 * Messages of the protocol the door has parsed and passed, handed to the
 * protocol in place of the text they were read from (`serialization` reads
 * them as they are).
 */
export class Checked {
  /** The messages, in the order their lines came. */
  readonly messages: ReadonlyArray<unknown>
  /** The connection's calls in flight, which the door admitted these messages' requests to (over WebSocket). */
  readonly inFlight: InFlight | undefined
  constructor(messages: ReadonlyArray<unknown>, inFlight?: InFlight) {
    this.messages = messages
    this.inFlight = inFlight
  }
}

/**
 * `base`, decoding `Checked` messages as they are (the door parsed them)
 * and anything else as `base` does, letting go of a call's id in flight as
 * its `Exit` is encoded: the serialization of a server whose
 * sockets `guardSocket` reads (`guardWebsocket` makes it so).
 */
export const serialization = (base: RpcSerialization.RpcSerialization["Service"]): RpcSerialization.RpcSerialization["Service"] =>
  RpcSerialization.RpcSerialization.of({
    ...base,
    makeUnsafe: () => {
      const parser = base.makeUnsafe()
      // One parser per connection: the calls in flight its `Checked` messages were admitted to, let go as answered.
      let inFlight: InFlight | undefined
      return {
        encode: (message) => {
          if (inFlight !== undefined) {
            if (Array.isArray(message)) for (const one of message) inFlight.answered(one)
            else inFlight.answered(message)
          }
          return parser.encode(message)
        },
        decode: (data) => {
          if (!(data instanceof Checked)) return parser.decode(data)
          inFlight ??= data.inFlight
          return data.messages
        }
      }
    }
  })

/** Checks every line of an ndjson body; ids may not repeat within it. The lines' messages are added to `passed`, parsed, when given. */
export const checkBody = (door: Door, body: string, passed?: Array<unknown>): Refusal | undefined => {
  const seen = new Set<string | number>()
  let start = 0
  while (start < body.length) {
    let end = body.indexOf("\n", start)
    if (end === -1) end = body.length
    const line = body.slice(start, end).trim()
    start = end + 1
    if (line === "") continue
    const refusal = door.check(line, seen, passed)
    if (refusal !== undefined) return refusal
  }
  return undefined
}

/** The WebSocket close code for a refusal: 1009 too big, 1007 a line that is not a message, 1008 any other. */
export const closeCode = (refusal: Refusal): number =>
  refusal._tag === "MalformedRequest"
    ? refusal.problem === "frame" ? 1007 : 1008
    : refusal.reason._tag === "PayloadTooLarge"
    ? 1009
    : 1008

/** A WebSocket close reason: at most 123 bytes of UTF-8, as the protocol allows. */
export const closeReason = (refusal: Refusal): string => {
  const text = `${refusal._tag}: ${refusal.message}`
  const bytes = new TextEncoder().encode(text)
  return bytes.length <= 123 ? text : `${new TextDecoder().decode(bytes.slice(0, 120)).replace(/\uFFFD$/, "")}...`
}

/**
 * Whether `text` is more than `max` bytes of UTF-8. A UTF-16 unit is 1 to 3
 * bytes (a surrogate pair's 4 bytes are 2 units), so the bytes are counted
 * only for a text whose length leaves it in doubt.
 */
const overBytes = (text: string, max: number): boolean =>
  text.length > max || (text.length * 3 > max && Buffer.byteLength(text, "utf8") > max)

/**
 * The ndjson lines of a stream of WebSocket messages: a line may span
 * messages, so the part after the last newline waits for the next one. A
 * line's limit is in bytes of UTF-8, as a body's over HTTP.
 */
export class LineSplitter {
  private partial = ""
  private readonly decoder = new TextDecoder()
  private readonly maxLineBytes: number
  constructor(maxLineBytes: number) {
    this.maxLineBytes = maxLineBytes
  }

  /** The complete lines of `data` (and of what waited), or the size refusal of an overlong line. */
  push(data: string | Uint8Array): ReadonlyArray<string> | "too-long" {
    const text = this.partial + (typeof data === "string" ? data : this.decoder.decode(data, { stream: true }))
    const lines = text.split("\n")
    this.partial = lines.pop()!
    if (overBytes(this.partial, this.maxLineBytes) || lines.some((line) => overBytes(line, this.maxLineBytes))) return "too-long"
    return lines
  }
}
