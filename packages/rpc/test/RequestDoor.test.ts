/**
 * The door every ndjson line passes before the RPC server parses it, with
 * the task RPCs behind it: which lines pass, and for each line refused the
 * typed error a client gets (its problem, its RPC, its detail); a body's
 * request ids used twice, and over WebSocket an id of a call still in flight
 * (held until its `Exit` is encoded); a number out of range (`1e400`: refused, it is no
 * JSON); the WebSocket close code and reason of a refusal;
 * lines split across WebSocket messages.
 */
import { TaskAccessError } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { Rpc } from "effect/rpc"
import * as Frames from "../src/internal/frames.ts"
import { TaskRpcs } from "../src/TaskRpcs.ts"
import { MalformedRequest } from "../src/TaskRpcError.ts"

// As the server makes it: for Submit and Run the limit holds for the task payload inside.
const door = Frames.make(TaskRpcs.requests as ReadonlyMap<string, any>, 4, new Set(["Submit", "Run"]))

const request = (fields: Record<string, unknown> = {}) =>
  JSON.stringify({ _tag: "Request", id: "1", tag: "Get", payload: { id: "t" }, headers: [], ...fields })

/** The refusal of `line` as plain fields, or `undefined` when it passes. */
const refusalOf = (line: string, seen?: Set<string | number>) => {
  const refusal = door.check(line, seen)
  if (refusal === undefined) return undefined
  assert.instanceOf(refusal, MalformedRequest)
  const { detail, problem, rpc } = refusal as MalformedRequest
  return rpc === undefined ? { problem, detail } : { problem, rpc, detail }
}

describe("the request door", () => {
  it("lets every message of the protocol pass when well formed", () => {
    for (
      const line of [
        JSON.stringify({ _tag: "Ping" }),
        JSON.stringify({ _tag: "Eof" }),
        JSON.stringify({ _tag: "Ack", requestId: "1" }),
        JSON.stringify({ _tag: "Interrupt", requestId: 7 }),
        request(),
        request({ id: 3, headers: [["authorization", "Bearer t"]], traceId: "a", spanId: "b", sampled: false }),
        request({ isNotification: true, discard: true }),
        request({ tag: "Stats", payload: null }),
        // An RPC without a payload takes none alike: the field left out, or an empty object.
        request({ tag: "Stats", payload: undefined }),
        request({ tag: "WatchAll", payload: {} }),
        // A payload its RPC's Schema refuses passes the door: the RPC's middleware answers it, typed.
        request({ tag: "Submit", payload: { nonsense: 1 } }),
        request({ tag: "Submit", payload: null }),
        request({ tag: "Run", payload: "text" }),
        request({ tag: "Run" })
      ]
    ) {
      assert.isUndefined(door.check(line, undefined), line)
    }
  })

  it("refuses a line that is not a message, naming what is wrong", () => {
    const frame = (detail: string, rpc?: string) => rpc === undefined ? { problem: "frame", detail } : { problem: "frame", rpc, detail }
    const cases: ReadonlyArray<readonly [string, ReturnType<typeof frame>]> = [
      ["[1]", frame("a message must be a JSON object, not an array")],
      ["null", frame("a message must be a JSON object, not null")],
      ["\"Ping\"", frame("a message must be a JSON object, not string")],
      [JSON.stringify({ _tag: "Pong" }), frame("unknown message type \"Pong\"")],
      [JSON.stringify({ _tag: 5 }), frame("unknown message type \"number\"")],
      [JSON.stringify({}), frame("unknown message type \"undefined\"")],
      [JSON.stringify({ _tag: "Ack" }), frame("Ack.requestId must be a string or a number")],
      [JSON.stringify({ _tag: "Interrupt", requestId: null }), frame("Interrupt.requestId must be a string or a number")],
      [request({ tag: 1 }), frame("Request.tag must be a string")],
      [request({ id: null }), frame("Request.id must be a string or a number", "Get")],
      [request({ id: 0 }).replace("\"id\":0", "\"id\":1e999"), frame("Request.id must be a string or a number", "Get")], // Infinity
      [request({ headers: {} }), frame("Request.headers must be an array of [name, value] string pairs", "Get")],
      [request({ headers: [["a"]] }), frame("Request.headers must be an array of [name, value] string pairs", "Get")],
      [request({ headers: [["a", "b", "c"]] }), frame("Request.headers must be an array of [name, value] string pairs", "Get")],
      [request({ headers: [["a", 1]] }), frame("Request.headers must be an array of [name, value] string pairs", "Get")],
      [request({ headers: [[1, "a"]] }), frame("Request.headers must be an array of [name, value] string pairs", "Get")],
      [request({ headers: ["ab"] }), frame("Request.headers must be an array of [name, value] string pairs", "Get")],
      [request({ traceId: 1 }), frame("Request.traceId must be a string", "Get")],
      [request({ spanId: false }), frame("Request.spanId must be a string", "Get")],
      [request({ sampled: "yes" }), frame("Request.sampled must be a boolean", "Get")],
      [request({ isNotification: false }), frame("Request.isNotification must be true", "Get")],
      [request({ discard: 1 }), frame("Request.discard must be true", "Get")]
    ]
    for (const [line, expected] of cases) assert.deepStrictEqual(refusalOf(line), expected, line)
    assert.deepInclude(refusalOf("{oops"), { problem: "frame" })
    assert.match(refusalOf("{oops")!.detail, /^not JSON: /)
  })

  it("refuses an RPC it does not know, and a payload for an RPC that takes none", () => {
    assert.deepStrictEqual(refusalOf(request({ tag: "Reboot" })), {
      problem: "unknown-rpc",
      rpc: "Reboot",
      detail: "no RPC is named \"Reboot\""
    })
    assert.deepStrictEqual(refusalOf(request({ tag: "Stats", payload: { all: true } })), {
      problem: "payload",
      rpc: "Stats",
      detail: "Stats takes no payload (none, null or {})"
    })
    // none, null and {} reach the server as the `null` its codec of no payload reads
    for (const payload of [undefined, null, {}]) {
      const passed: Array<unknown> = []
      assert.isUndefined(door.check(request({ tag: "WatchAll", payload }), undefined, passed))
      assert.deepInclude(passed[0], { tag: "WatchAll", payload: null })
    }
    // an RPC whose payload Schema is not lenient: a payload it refuses is named with what is wrong, not as if the
    // RPC took none (the task RPCs' payloads are all lenient: their middleware answers a bad one, typed)
    const strictDoor = Frames.make(new Map([["Strict", Rpc.make("Strict", { payload: Schema.Struct({ n: Schema.Number }) })]]), 4)
    assert.isUndefined(strictDoor.check(request({ tag: "Strict", payload: { n: 1 } }), undefined))
    const wrong = strictDoor.check(request({ tag: "Strict", payload: { n: "one" } }), undefined) as MalformedRequest
    assert.deepInclude(wrong, { problem: "payload", rpc: "Strict" })
    assert.match(wrong.detail, /^Strict's payload: Expected /)
  })

  it("refuses a request id used twice in one body, and only within it", () => {
    assert.isUndefined(Frames.checkBody(door, `${request({ id: "a" })}\n\n  \n${request({ id: "b" })}\n`))
    const twice = Frames.checkBody(door, `${request({ id: "a" })}\n${request({ id: "b" })}\n${request({ id: "a", tag: "Await" })}`)
    assert.deepInclude(twice, { problem: "duplicate-id", rpc: "Await", detail: "request id a is used twice" })
    assert.isUndefined(Frames.checkBody(door, request({ id: "a" })))
    // The first refusal of a body is its answer.
    const first = Frames.checkBody(door, `${request({ id: 1 })}\n[]\n${request({ tag: "Reboot" })}\n`)
    assert.deepInclude(first, { problem: "frame", detail: "a message must be a JSON object, not an array" })
    // Without a set of seen ids (over WebSocket) an id may come again.
    assert.isUndefined(door.check(request({ id: "a" }), undefined))
    assert.isUndefined(door.check(request({ id: "a" }), undefined))
  })

  it("refuses a payload nested far deeper than the limit before reading it, and lets one within the limit pass", () => {
    const nested = (depth: number): unknown => depth === 0 ? 1 : [nested(depth - 1)]
    assert.isUndefined(door.check(request({ tag: "Submit", payload: nested(4), headers: [["a", "b"]] }), undefined))
    const deep = door.check(request({ tag: "Submit", payload: nested(50) }), undefined)
    assert.instanceOf(deep, TaskAccessError.TaskAccessError)
    assert.deepInclude((deep as TaskAccessError.TaskAccessError).reason, { _tag: "PayloadTooDeep", limit: 4 })
    assert.strictEqual(door.maxDepth, 4)
  })

  it("closes a WebSocket with 1007 for a line that is not a message, 1009 for one too large, 1008 otherwise", () => {
    const malformed = (problem: MalformedRequest["problem"]) => new MalformedRequest({ problem, detail: "d" })
    const access = (reason: TaskAccessError.TaskAccessErrorReason) => TaskAccessError.refuse(reason)
    assert.deepStrictEqual(
      [
        Frames.closeCode(malformed("frame")),
        Frames.closeCode(malformed("unknown-rpc")),
        Frames.closeCode(malformed("duplicate-id")),
        Frames.closeCode(malformed("payload")),
        Frames.closeCode(access(new TaskAccessError.PayloadTooLarge({ size: 10, limit: 5 }))),
        Frames.closeCode(access(new TaskAccessError.PayloadTooDeep({ depth: 10, limit: 5 })))
      ],
      [1007, 1008, 1008, 1008, 1009, 1008]
    )
  })

  it("gives a close reason of at most 123 bytes, cut on a character boundary", () => {
    const short = new MalformedRequest({ problem: "frame", detail: "not JSON" })
    assert.strictEqual(Frames.closeReason(short), "MalformedRequest: malformed request: not JSON")
    const fits = new MalformedRequest({ problem: "frame", detail: "x".repeat(123 - "MalformedRequest: malformed request: ".length) })
    assert.strictEqual(Frames.closeReason(fits), `MalformedRequest: ${fits.message}`)
    for (const filler of ["x", "é", "😀"]) {
      const long = new MalformedRequest({ problem: "frame", detail: filler.repeat(200) })
      const reason = Frames.closeReason(long)
      const bytes = new TextEncoder().encode(reason).length
      assert.isAtMost(bytes, 123, filler)
      assert.isAtLeast(bytes, 117, filler)
      assert.isTrue(reason.endsWith("..."), reason)
      assert.isTrue(`MalformedRequest: ${long.message}`.startsWith(reason.slice(0, -3)), filler)
      assert.notInclude(reason, "\uFFFD")
    }
  })
})

describe("LineSplitter", () => {
  it("hands on complete lines, keeping a line split across messages (and a character split across bytes) for the next", () => {
    const splitter = new Frames.LineSplitter(100)
    assert.deepStrictEqual(splitter.push("a\nb"), ["a"])
    assert.deepStrictEqual(splitter.push("c\nd\n"), ["bc", "d"])
    const bytes = new TextEncoder().encode("é\n")
    assert.deepStrictEqual(splitter.push(bytes.slice(0, 1)), [])
    assert.deepStrictEqual(splitter.push(bytes.slice(1)), ["é"])
  })

  it("refuses a line longer than its limit, whole or still waiting for its end", () => {
    assert.deepStrictEqual(new Frames.LineSplitter(3).push("abc\n"), ["abc"])
    assert.strictEqual(new Frames.LineSplitter(3).push("abcd\n"), "too-long")
    assert.strictEqual(new Frames.LineSplitter(3).push("ok\nabcd"), "too-long")
    assert.deepStrictEqual(new Frames.LineSplitter(3).push("ok\nabc"), ["ok"])
  })

  it("counts its limit in bytes of UTF-8, not characters: a character of two, three or four bytes counts as many", () => {
    assert.deepStrictEqual(new Frames.LineSplitter(3).push("€\n"), ["€"])
    assert.strictEqual(new Frames.LineSplitter(3).push("é€\n"), "too-long")
    assert.strictEqual(new Frames.LineSplitter(3).push("ok\néé"), "too-long")
    assert.strictEqual(new Frames.LineSplitter(3).push(new TextEncoder().encode("\u{1F600}\n")), "too-long")
    assert.deepStrictEqual(new Frames.LineSplitter(4).push(new TextEncoder().encode("\u{1F600}\n")), ["\u{1F600}"])
  })
})

describe("the request door and numbers out of range", () => {
  it("refuses a line holding a number JSON.parse reads as infinite, wherever it is, and lets finite ones pass", () => {
    const refused = { problem: "frame", detail: "a number is out of range: JSON numbers are finite, at most about 1.8e308" }
    const scan = (x: string) => `{"kind":"demo-scan","payload":{"fromBlock":1,"toBlock":2,"delayMillis":0,"x":${x}}}`
    for (
      const line of [
        request({ tag: "Submit" }).replace(/"payload":\{[^}]*\}/, `"payload":${scan("1e400")}`),
        request({ tag: "Submit" }).replace(/"payload":\{[^}]*\}/, `"payload":${scan("[-1E+999]")}`),
        request({ tag: "Submit" }).replace(/"payload":\{[^}]*\}/, `"payload":${scan(`${"9".repeat(250)}e99`)}`),
        request({ tag: "Submit" }).replace(/"payload":\{[^}]*\}/, `"payload":${scan("9".repeat(309))}`),
        request({ payload: { id: "t" } }).replace("\"headers\":[]", "\"headers\":[],\"extra\":1e400")
      ]
    ) {
      assert.deepStrictEqual(refusalOf(line), refused, line.slice(0, 120))
    }
    for (const x of ["1e308", "-1.5e-400", `${"9".repeat(308)}`, "\"1e400\"", "12e5"]) {
      const line = request({ tag: "Submit" }).replace(/"payload":\{[^}]*\}/, `"payload":${scan(x)}`)
      assert.isUndefined(door.check(line, undefined), x)
    }
  })
})

describe("the request door and the calls in flight on a WebSocket", () => {
  it("refuses a request under an id in flight until its Exit is encoded; notifications are not held", () => {
    const inFlight = new Frames.InFlight()
    const get = (id: unknown, fields: Record<string, unknown> = {}) => request({ id, ...fields })
    assert.isUndefined(door.check(get("a"), undefined, undefined, inFlight))
    assert.isUndefined(door.check(get(1), undefined, undefined, inFlight))
    assert.isUndefined(door.check(get("1"), undefined, undefined, inFlight))
    const refusal = door.check(get("a"), undefined, undefined, inFlight)
    assert.instanceOf(refusal, MalformedRequest)
    assert.deepInclude(refusal, { problem: "duplicate-id", rpc: "Get", detail: "request id a is used again while its call is in flight" })
    // Pings, acks and interrupts name no call of their own.
    assert.isUndefined(door.check(JSON.stringify({ _tag: "Interrupt", requestId: "a" }), undefined, undefined, inFlight))
    inFlight.answered({ _tag: "Chunk", requestId: "a", values: [] })
    assert.isDefined(door.check(get("a"), undefined, undefined, inFlight))
    inFlight.answered({ _tag: "Exit", requestId: "a", exit: {} })
    assert.isUndefined(door.check(get("a"), undefined, undefined, inFlight))
    // Notifications get ids of the server's own.
    assert.isUndefined(door.check(get("n", { isNotification: true }), undefined, undefined, inFlight))
    assert.isUndefined(door.check(get("n", { isNotification: true }), undefined, undefined, inFlight))
  })

  it("holds a discarded call's id past its answer (it runs on, its end never told), the latest maxDiscarded of them", () => {
    const inFlight = new Frames.InFlight()
    const discarded = (id: unknown) => request({ id, discard: true })
    assert.isUndefined(door.check(discarded("d"), undefined, undefined, inFlight))
    inFlight.answered({ _tag: "Exit", requestId: "d", exit: { _tag: "Success", value: null } })
    assert.deepInclude(door.check(request({ id: "d" }), undefined, undefined, inFlight), { problem: "duplicate-id" })
    assert.deepInclude(door.check(discarded("d"), undefined, undefined, inFlight), { problem: "duplicate-id" })
    // under the id of a call in flight, a discarded call is refused too
    assert.isUndefined(door.check(request({ id: "r" }), undefined, undefined, inFlight))
    assert.deepInclude(door.check(discarded("r"), undefined, undefined, inFlight), { problem: "duplicate-id" })
    // "d" and maxDiscarded - 1 more held; one more lets go of "d", the oldest
    for (let n = 1; n < Frames.InFlight.maxDiscarded; n++) assert.isUndefined(door.check(discarded(n), undefined, undefined, inFlight))
    assert.isDefined(door.check(request({ id: "d" }), undefined, undefined, inFlight))
    assert.isUndefined(door.check(discarded(Frames.InFlight.maxDiscarded), undefined, undefined, inFlight))
    assert.isUndefined(door.check(request({ id: "d" }), undefined, undefined, inFlight))
    assert.isDefined(door.check(request({ id: 1 }), undefined, undefined, inFlight))
  })

  it("lets go of the ids a serialization's parser encodes an Exit for, one message or many", () => {
    const inFlight = new Frames.InFlight()
    const base = { makeUnsafe: () => ({ encode: () => "encoded", decode: (data: unknown) => [`base read ${String(data)}`] }) } as any
    const parser = Frames.serialization(base).makeUnsafe()
    // Before any checked messages, and for anything else than them, the base serialization reads; encoding goes on.
    assert.strictEqual(parser.encode(null), "encoded")
    assert.deepStrictEqual(parser.decode("text"), ["base read text"])
    assert.isUndefined(door.check(request({ id: "x" }), undefined, undefined, inFlight))
    assert.isUndefined(door.check(request({ id: "y" }), undefined, undefined, inFlight))
    // The parser learns the connection's calls from the first checked messages it decodes.
    parser.decode(new Frames.Checked([], inFlight) as unknown as string)
    assert.strictEqual(parser.encode([{ _tag: "Exit", requestId: "x" }, { _tag: "Exit", requestId: "y" }]), "encoded")
    assert.isUndefined(door.check(request({ id: "x" }), undefined, undefined, inFlight))
    assert.isUndefined(door.check(request({ id: "y" }), undefined, undefined, inFlight))
    assert.isDefined(door.check(request({ id: "x" }), undefined, undefined, inFlight))
    // Whatever else it encodes (no message at all included) lets go of nothing.
    assert.strictEqual(parser.encode(null), "encoded")
    assert.deepStrictEqual(parser.decode("more text"), ["base read more text"])
    assert.isDefined(door.check(request({ id: "x" }), undefined, undefined, inFlight))
  })
})

describe("the request door at its limits", () => {
  it("refuses a payload just deeper than the limit that the line's scan lets through: the envelope's allowance is for Submit's", () => {
    const nested = (depth: number): unknown => depth === 0 ? 1 : [nested(depth - 1)]
    // Get's payload is one level in, not two: the scan's allowance of two levels for the envelope lets this line pass
    const deep = door.check(request({ payload: { id: nested(4) } }), undefined)
    assert.instanceOf(deep, TaskAccessError.TaskAccessError)
    assert.deepInclude((deep as TaskAccessError.TaskAccessError).reason, { _tag: "PayloadTooDeep", depth: 5, limit: 4 })
  })

  it("names every issue of a payload its Schema refuses on one line, each apart from the next", () => {
    // a union's refusal holds one issue per member, on lines of their own in Schema's message
    const either = Schema.Union([Schema.Struct({ a: Schema.String }), Schema.Struct({ b: Schema.Number })])
    const strictDoor = Frames.make(new Map([["Either", Rpc.make("Either", { payload: either })]]), 4)
    const refused = strictDoor.check(request({ tag: "Either", payload: {} }), undefined) as MalformedRequest
    assert.deepInclude(refused, { problem: "payload", rpc: "Either" })
    assert.notInclude(refused.detail, "\n")
    const words = refused.detail.split(/\s+/)
    assert.includeMembers(words, ['["a"]', '["b"]'], `each member's issue apart in ${JSON.stringify(refused.detail)}`)
  })

  it("keeps a replacement character the refusal's own text holds when it cuts the close reason", () => {
    // only a character the cut split is dropped: one named in the detail, in the first 120 bytes, stays
    const long = new MalformedRequest({ problem: "frame", detail: `a \uFFFD in ${"x".repeat(200)}` })
    assert.strictEqual(Frames.closeReason(long), `MalformedRequest: ${long.message}`.slice(0, 120 - 2) + "...")
  })
})
