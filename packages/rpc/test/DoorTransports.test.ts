/**
 * The door as each transport applies it, in the test process over real
 * sockets: over HTTP a bad body is refused whole (400 with the typed error,
 * 413 past `maxBodyBytes`; a number out of range, `1e400`, too) and serves none of its lines; over WebSocket the
 * lines before a refused one are answered, blank lines skipped, a line may
 * span messages, and a line past `maxBodyBytes` (in bytes, not characters)
 * closes the socket with 1009 before its end arrives; a request under the id
 * of a call still in flight closes it with 1008 and a typed reason (an id
 * answered may be used again); a refused request that names one call (a valid
 * id not in flight, an RPC of the group) fails alone, typed, and the socket
 * serves on, but a refused notification or discarded call (whose answer no
 * one awaits) closes it; a refused line, even
 * one that parses, is never handed on with the lines passed before it, and
 * no message read with it after it is checked or answered. A
 * request line with no payload at all is a typed `MalformedRequest`, as a
 * bad payload is.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { overHttp, overWebsocket, requestLine, serve } from "./localServer.ts"

const ping = `${JSON.stringify({ _tag: "Ping" })}\n`
const pong = { _tag: "Pong" }

/** The tasks alice sees, listed over HTTP. */
const listed = (port: number) =>
  Effect.map(overHttp(port, requestLine("List", {}, "list")), ({ body }) => {
    const exit = body.find((message) => message._tag === "Exit")?.exit
    assert.strictEqual(exit?._tag, "Success", JSON.stringify(body))
    return exit.value.items.length as number
  })

describe("the door over HTTP", () => {
  it.live("a body with a line that is not a message is refused whole: 400 MalformedRequest, its good lines not served", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      const refused = yield* overHttp(port, `${requestLine("Submit", { kind: "add", payload: { a: 1, b: 2 } })}{oops\n`)
      assert.strictEqual(refused.status, 400)
      assert.deepInclude(refused.body[0], { _tag: "MalformedRequest", problem: "frame" })
      assert.match(refused.body[0].detail, /^not JSON: /)
      assert.strictEqual(yield* listed(port), 0)
    }).pipe(Effect.scoped))

  it.live("a submission holding a number out of range (1e400) is refused whole: 400 MalformedRequest, no task stored as null", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      const line = requestLine("Submit", { kind: "add", payload: { a: 1, b: 2, c: 0 } }).replace("\"c\":0", "\"c\":1e400")
      const refused = yield* overHttp(port, line)
      assert.strictEqual(refused.status, 400)
      assert.deepInclude(refused.body[0], { _tag: "MalformedRequest", problem: "frame" })
      assert.match(refused.body[0].detail, /out of range/)
      assert.strictEqual(yield* listed(port), 0)
    }).pipe(Effect.scoped))

  it.live("a body over maxBodyBytes is refused with 413 PayloadTooLarge, reading no further than the limit", () =>
    Effect.gen(function*() {
      const port = yield* serve({}, { maxBodyBytes: 2000 })
      const body = requestLine("Submit", { kind: "fail", payload: { message: "x".repeat(3000) } })
      const refused = yield* overHttp(port, body)
      assert.strictEqual(refused.status, 413)
      assert.deepStrictEqual(refused.body[0].reason, { _tag: "PayloadTooLarge", size: 2001, limit: 2000 })
      assert.strictEqual(yield* listed(port), 0)
    }).pipe(Effect.scoped))
})

describe("a request line without a payload", () => {
  it.live("is answered with a typed MalformedRequest naming the RPC, never a defect (Get, Submit)", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      const noPayload = (tag: string, id: string) =>
        `${JSON.stringify({ _tag: "Request", id, tag, headers: [["authorization", "Bearer alice-token"]] })}\n`
      const answered = yield* overHttp(port, `${noPayload("Get", "1")}${noPayload("Submit", "2")}`)
      assert.strictEqual(answered.status, 200)
      const causes = answered.body.map((message) => [message.requestId, message.exit.cause.map((part: any) => [part._tag, part.error?._tag, part.error?.problem, part.error?.rpc])])
      assert.sameDeepMembers(causes, [
        ["1", [["Fail", "MalformedRequest", "payload", "Get"]]],
        ["2", [["Fail", "MalformedRequest", "payload", "Submit"]]]
      ])
      assert.strictEqual(yield* listed(port), 0)
    }).pipe(Effect.scoped))
})

/** The answers to `lines` sent over one WebSocket one at a time, each once the one before it is answered. */
const oneByOne = (port: number, lines: ReadonlyArray<string>) =>
  Effect.promise(() =>
    new Promise<{ readonly answers: Array<any>; readonly code?: number }>((resolve) => {
      const answers: Array<any> = []
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`)
      const next = () => {
        if (answers.length < lines.length) return socket.send(lines[answers.length])
        socket.onclose = null
        socket.close()
        resolve({ answers })
      }
      socket.onopen = next
      socket.onmessage = (event) => {
        for (const line of String(event.data).split("\n")) if (line !== "") answers.push(JSON.parse(line))
        next()
      }
      socket.onclose = (event) => resolve({ answers, code: event.code })
    })
  )

describe("the door over WebSocket", () => {
  it.live("a request under the id of a call in flight closes the socket with 1008 naming it (the server's own close: 1001, no reason)", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      // A stream of every change stays in flight; the Get after it reuses its id.
      const outcome = yield* overWebsocket(port, [requestLine("WatchChanges", {}, "w"), requestLine("Get", { id: "t" }, "w")])
      assert.strictEqual(outcome.code, 1008)
      assert.match(outcome.reason ?? "", /^MalformedRequest: .*request id w is used again while its call is in flight/)
    }).pipe(Effect.scoped))

  it.live("a discarded call under the id of a call in flight, or a call under a discarded call's id still running, is refused with 1008, not a close 1001", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      const discarded = (line: string) => line.replace("\"tag\":", "\"discard\":true,\"tag\":")
      // A stream of every change stays in flight (its discarded twin too: acknowledged, it runs on, unanswered).
      for (
        const lines of [
          [requestLine("WatchChanges", {}, "w"), discarded(requestLine("Get", { id: "t" }, "w"))],
          [discarded(requestLine("WatchChanges", {}, "d")), requestLine("Get", { id: "t" }, "d")]
        ]
      ) {
        const outcome = yield* overWebsocket(port, lines)
        assert.strictEqual(outcome.code, 1008, JSON.stringify(outcome))
        assert.match(outcome.reason ?? "", /^MalformedRequest: .*request id [wd] is used again while its call is in flight/)
      }
    }).pipe(Effect.scoped))

  it.live("an id whose call was answered may be used again, and ids of other calls in flight pass", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      const get = requestLine("Get", { id: "t" }, "g")
      const outcome = yield* oneByOne(port, [get, get, requestLine("Get", { id: "t" }, "7").replace("\"id\":\"7\"", "\"id\":7"), requestLine("Get", { id: "t" }, "7")])
      assert.isUndefined(outcome.code)
      assert.deepStrictEqual(outcome.answers.map((answer) => [answer._tag, answer.requestId]), [["Exit", "g"], ["Exit", "g"], ["Exit", 7], ["Exit", "7"]])
    }).pipe(Effect.scoped))

  it.live("the lines before a refused one are answered, blank lines skipped, then the socket closes with the refusal's code", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      const outcome = yield* overWebsocket(port, [`${ping}\n  \n${ping}{oops\n${ping}`])
      assert.deepStrictEqual(outcome.answers, [pong, pong])
      assert.strictEqual(outcome.code, 1007)
      assert.match(outcome.reason ?? "", /^MalformedRequest: malformed request: not JSON/)
    }).pipe(Effect.scoped))

  it.live("a line split across messages, even inside a character, is read whole", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      const bytes = new TextEncoder().encode(requestLine("Get", { id: "é" }))
      const at = bytes.indexOf(0xc3) + 1 // inside the two bytes of é
      const outcome = yield* overWebsocket(port, [bytes.slice(0, at), bytes.slice(at)], 1)
      assert.strictEqual(outcome.answers[0]._tag, "Exit")
      assert.strictEqual(outcome.answers[0].exit.cause[0].error._tag, "TaskNotFound")
    }).pipe(Effect.scoped))

  it.live("a line longer than maxBodyBytes closes the socket with 1009 before its end arrives", () =>
    Effect.gen(function*() {
      const port = yield* serve({}, { maxBodyBytes: 100 })
      const outcome = yield* overWebsocket(port, [ping, `{"_tag":"Ping","pad":"${"x".repeat(200)}`])
      assert.deepStrictEqual(outcome.answers, [pong])
      assert.strictEqual(outcome.code, 1009)
      assert.strictEqual(outcome.reason, "TaskAccessError: the payload is 101 bytes; at most 100 are accepted")
    }).pipe(Effect.scoped))

  it.live("maxBodyBytes counts a line's bytes: a line of 64 characters and 144 bytes closes the socket with 1009 at a limit of 100", () =>
    Effect.gen(function*() {
      const port = yield* serve({}, { maxBodyBytes: 100 })
      const line = `{"_tag":"Ping","pad":"${"€".repeat(40)}"}`
      assert.deepStrictEqual([line.length, new TextEncoder().encode(line).length], [64, 144])
      // at most two answers: without the limit the line and the ping after it are both answered, and the socket stays open
      const outcome = yield* overWebsocket(port, [ping, `${line}\n${ping}`], 2)
      assert.deepStrictEqual(outcome.answers, [pong])
      assert.strictEqual(outcome.code, 1009)
    }).pipe(Effect.scoped))

  it.live("a refused line that parses goes no further than one that does not: the lines passed with it in one message are answered, it is not", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      // Handed on with the ping, the protocol would answer the unknown RPC with a defect before the close.
      const unknown = yield* overWebsocket(port, [`${ping}${requestLine("Nope", {}, "7")}`])
      assert.deepStrictEqual(unknown.answers, [pong])
      assert.strictEqual(unknown.code, 1008)
      assert.strictEqual(unknown.reason, `MalformedRequest: invalid Nope request: no RPC is named "Nope"`)
      // Handed on, a line that is no message would fail the protocol's own decoding: the socket ends with 1011.
      const malformed = yield* overWebsocket(port, [`${ping}${JSON.stringify({ _tag: "Request", tag: "Get", payload: { id: "x" }, headers: [] })}\n`])
      assert.deepStrictEqual(malformed.answers, [pong])
      assert.strictEqual(malformed.code, 1007)
    }).pipe(Effect.scoped))

  it.live("a refused request that names one call fails alone, typed: the calls in flight beside it are answered and the socket serves on", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      // A submission in flight, then three calls refused at the door in the same message (headers not pairs, a
      // number out of range, a payload its RPC cannot take), then a call that passes.
      const headers = JSON.stringify({ _tag: "Request", id: "h", tag: "Get", payload: { id: "x" }, headers: 5 })
      const outOfRange = requestLine("Submit", { kind: "add", payload: { a: 1, b: 2, c: 0 } }, "r").replace("\"c\":0", "\"c\":1e400")
      const noPayload = requestLine("Stats", { x: 1 }, "p")
      const outcome = yield* overWebsocket(port, [
        `${requestLine("Submit", { kind: "add", payload: { a: 1, b: 2 } }, "s")}${headers}\n${outOfRange}${noPayload}${requestLine("Get", { id: "t" }, "g")}`
      ], 5)
      assert.isUndefined(outcome.code, "the socket stays open")
      const exitOf = (id: string) => outcome.answers.find((answer) => answer._tag === "Exit" && answer.requestId === id)
      assert.strictEqual(exitOf("s")?.exit._tag, "Success", JSON.stringify(outcome.answers))
      for (const [id, problem] of [["h", "frame"], ["r", "frame"], ["p", "payload"]] as const) {
        assert.strictEqual(exitOf(id)?.exit._tag, "Failure", JSON.stringify(outcome.answers))
        assert.deepInclude(exitOf(id).exit.cause[0].error, { _tag: "MalformedRequest", problem })
      }
      assert.strictEqual(exitOf("g")?.exit.cause[0].error._tag, "TaskNotFound")
      // Only the submission that passed is stored (the out-of-range one is not stored as null).
      assert.strictEqual(yield* listed(port), 1)
    }).pipe(Effect.scoped))

  it.live("a refused request under the id of a call in flight still closes the socket: its answer would read as that call's", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      const badPayload = requestLine("Stats", { x: 1 }, "w")
      const outcome = yield* overWebsocket(port, [`${requestLine("WatchChanges", {}, "w")}${badPayload}`])
      assert.strictEqual(outcome.code, 1008)
      assert.isUndefined(outcome.answers.find((answer) => answer._tag === "Exit" && answer.requestId === "w"))
    }).pipe(Effect.scoped))

  it.live("a refused notification or discarded call closes the socket: no one awaits its answer, so the close is its refusal", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      for (const field of ["discard", "isNotification"]) {
        const refused = requestLine("Stats", { x: 1 }, "n").replace("\"tag\":", `"${field}":true,"tag":`)
        // At most two answers: answered as a call that fails alone, its Exit and the ping's pong would come, the socket open.
        const outcome = yield* overWebsocket(port, [`${refused}${ping}`], 2)
        assert.strictEqual(outcome.code, 1008, `${field}: ${JSON.stringify(outcome)}`)
        assert.match(outcome.reason ?? "", /^MalformedRequest: /, field)
        assert.deepStrictEqual(outcome.answers, [], field)
      }
    }).pipe(Effect.scoped), 30_000)

  it.live("a refusal ends what was read with it: messages read after it in the same pull are neither checked nor answered", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      // Sent in one go, the messages after the first arrive while the first is served: one pull reads the rest together.
      // At most four answers: were the pings after the refused line checked, they would pass and the refusal be lost.
      const outcome = yield* overWebsocket(port, [ping, ping, "{oops\n", ping, ping], 4)
      assert.strictEqual(outcome.code, 1007, JSON.stringify(outcome))
      assert.deepStrictEqual(outcome.answers, [pong, pong])
    }).pipe(Effect.scoped), 30_000)
})
