/**
 * Generated bad requests against the whole service on 127.0.0.1, over REST,
 * RPC over HTTP and RPC over WebSocket: whatever a careless or hostile client
 * sends, the answer is never a 5xx, every refusal is a typed body (or a
 * WebSocket close with a code and a reason), nothing is stored, and the
 * service keeps answering.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Arbitrary, Duration, Effect, Redacted, Schema } from "effect"
import { connect } from "node:net"
import { baseUrl, request, testServer } from "./http.ts"

const settings = {
  authTokens: { alice: Redacted.make("alice-token"), ops: Redacted.make("ops-token") },
  admins: ["ops"]
}

const json = Arbitrary.schema(Schema.Json)
const text = Arbitrary.schema(Schema.String)
const depth = Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 33, maximum: 3000 })))
const extra = Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4096 })))

/** JSON text nested `levels` arrays and objects deep, around `inner`. */
const nestedText = (levels: number, inner: string) => {
  let open = ""
  let close = ""
  for (let i = 0; i < levels; i++) {
    open += i % 2 === 0 ? "[" : "{\"v\":"
    close = (i % 2 === 0 ? "]" : "}") + close
  }
  return open + inner + close
}

/** A request to the REST API that no server may accept. */
interface RestCase {
  readonly method: string
  readonly path: string
  readonly body?: string
  readonly token: string
}

const restCase: Arbitrary.Arbitrary<RestCase> = Arbitrary.flatMap(
  Arbitrary.schema(
    Schema.Literals([
      "unknown-kind",
      "invalid-payload",
      "not-json",
      "too-deep",
      "too-large",
      "bad-token",
      "bad-id",
      "bad-query",
      "unknown-route"
    ])
  ),
  (kind): Arbitrary.Arbitrary<RestCase> => {
    switch (kind) {
      case "unknown-kind":
        return Arbitrary.map(Arbitrary.all([text, json]), ([name, body]) => ({
          method: "POST",
          path: `/api/tasks/no-such-${encodeURIComponent(name.toWellFormed())}`,
          body: JSON.stringify(body),
          token: "alice-token"
        }))
      case "invalid-payload":
        return Arbitrary.map(Arbitrary.all([text, json]), ([from, to]) => ({
          method: "POST",
          path: "/api/tasks/demo-scan",
          body: JSON.stringify({ fromBlock: `x${from}`, toBlock: to, delayMillis: 0 }),
          token: "alice-token"
        }))
      case "not-json":
        return Arbitrary.map(text, (garbage) => ({ method: "POST", path: "/api/tasks/demo-scan", body: `{${garbage}`, token: "alice-token" }))
      case "too-deep":
        return Arbitrary.map(depth, (levels) => ({
          method: "POST",
          path: "/api/tasks/demo-scan",
          body: `{"fromBlock":1,"toBlock":2,"delayMillis":0,"extra":${nestedText(levels, "0")}}`,
          token: "alice-token"
        }))
      case "too-large":
        return Arbitrary.map(extra, (over) => ({
          method: "POST",
          path: "/api/tasks/demo-scan",
          body: JSON.stringify({ fromBlock: 1, toBlock: 2, delayMillis: 0, pad: "x".repeat(64 * 1024 + over) }),
          token: "alice-token"
        }))
      case "bad-token":
        return Arbitrary.map(text, (token) => ({
          method: "POST",
          path: "/api/tasks/demo-scan",
          body: JSON.stringify({ fromBlock: 1, toBlock: 2, delayMillis: 0 }),
          token: `forged-${encodeURIComponent(token.toWellFormed())}`
        }))
      case "bad-id":
        return Arbitrary.map(Arbitrary.all([text, Arbitrary.schema(Schema.Literals(["GET ", "GET /result", "POST /interrupt", "DELETE "]))]), ([id, route]) => {
          const [method, suffix] = route.split(" ")
          return { method, path: `/api/tasks/${encodeURIComponent(id.toWellFormed()) || "x"}${suffix}`, token: "alice-token" }
        })
      case "unknown-route":
        return Arbitrary.map(Arbitrary.all([text, Arbitrary.schema(Schema.Literals(["GET", "PUT", "PATCH", "POST", "DELETE"]))]), ([path, method]) => ({
          method,
          path: `/${["api/", "", "rpc/", "ws/"][path.length % 4]}nope-${encodeURIComponent(path.toWellFormed())}`,
          token: "alice-token"
        }))
      case "bad-query":
        return Arbitrary.map(Arbitrary.all([text, text]), ([status, limit]) => ({
          method: "GET",
          path: `/api/tasks?status=${encodeURIComponent(status.toWellFormed())}&limit=${encodeURIComponent(limit.toWellFormed())}&page=${encodeURIComponent(status.toWellFormed())}`,
          token: "alice-token"
        }))
    }
  }
)

const rpcTags = ["Submit", "Run", "Get", "Await", "Watch", "Interrupt", "List", "Delete", "Purge", "Stats"] as const

/** One ndjson line a client might send: anything JSON, or a request with some part wrong. */
const rpcLine: Arbitrary.Arbitrary<string> = Arbitrary.flatMap(
  Arbitrary.schema(Schema.Literals(["any-json", "not-json", "bad-envelope", "bad-payload", "unknown-kind", "too-deep", "repeated-id"])),
  (kind): Arbitrary.Arbitrary<string> => {
    const auth = [["authorization", "Bearer alice-token"]]
    const tag = Arbitrary.schema(Schema.Literals(rpcTags))
    switch (kind) {
      case "any-json":
        return Arbitrary.map(json, (value) => JSON.stringify(value))
      case "not-json":
        return Arbitrary.map(text, (garbage) => `{${garbage.replaceAll("\n", " ")}`)
      case "bad-envelope":
        return Arbitrary.map(Arbitrary.all([json, json, tag]), ([id, headers, rpc]) =>
          JSON.stringify({ _tag: "Request", id: typeof id === "string" ? { id } : id, tag: rpc, payload: null, headers }))
      case "bad-payload":
        return Arbitrary.map(Arbitrary.all([json, tag]), ([payload, rpc]) =>
          JSON.stringify({
            _tag: "Request",
            id: "1",
            tag: rpc,
            payload: rpc === "Submit" || rpc === "Run" ? { kind: "demo-scan", payload: { fromBlock: payload } } : payload,
            headers: auth
          }))
      case "unknown-kind":
        return Arbitrary.map(Arbitrary.all([text, json]), ([name, payload]) =>
          JSON.stringify({ _tag: "Request", id: "2", tag: "Submit", payload: { kind: `no-such-${name}`, payload }, headers: auth }))
      case "too-deep":
        return Arbitrary.map(depth, (levels) =>
          `{"_tag":"Request","id":"3","tag":"Submit","payload":{"kind":"demo-scan","payload":${nestedText(levels, "0")}},"headers":[]}`)
      case "repeated-id":
        return Arbitrary.map(extra, (times) =>
          Array.from({ length: 2 + (times % 50) }, () => JSON.stringify({ _tag: "Request", id: "9", tag: "Stats", payload: null, headers: auth }))
            .join("\n"))
    }
  }
)

/** A typed error body: JSON with a string `_tag`. */
const assertTyped = (reply: { readonly status: number; readonly text: string }) => {
  assert.isBelow(reply.status, 500, reply.text)
  const body = JSON.parse(reply.text)
  assert.isString(body._tag, reply.text)
}

/** No answer of an ndjson response is a defect or a death: every failure is typed. */
const assertNoDefect = (text: string) => {
  for (const line of text.split("\n").filter((l) => l.trim() !== "")) {
    const message = JSON.parse(line)
    assert.notStrictEqual(message._tag, "Defect", line)
    if (message._tag === "Exit" && message.exit._tag === "Failure") {
      for (const reason of message.exit.cause) assert.strictEqual(reason._tag, "Fail", line)
    }
  }
}

const send = (method: string, path: string, body: string | undefined, headers: Record<string, string>) =>
  Effect.flatMap(baseUrl, (base) =>
    Effect.promise(async () => {
      const response = await fetch(base + path, { method, headers, ...(body === undefined ? {} : { body }) })
      return { status: response.status, text: await response.text() }
    }))

/** Nothing was stored, and the service still answers. */
const stillHealthy = Effect.gen(function*() {
  assert.strictEqual((yield* request("GET", "/healthz")).status, 200)
  const all = yield* request("GET", "/api/tasks?limit=1000", { token: "ops-token" })
  assert.strictEqual(all.status, 200)
  assert.deepStrictEqual(all.body.items, [])
})

describe("hostile input", () => {
  layer(testServer(settings), { excludeTestServices: true, timeout: "60 seconds" })("against the whole service", (it) => {
    it.effect.prop("REST: a bad request gets a typed 4xx, and nothing is stored", [restCase], ([bad]) =>
      Effect.gen(function*() {
        const headers: Record<string, string> = { authorization: `Bearer ${bad.token}` }
        if (bad.body !== undefined) headers["content-type"] = "application/json"
        const reply = yield* send(bad.method, bad.path, bad.body, headers)
        assert.isAtLeast(reply.status, 400, reply.text)
        assertTyped(reply)
        yield* stillHealthy
      }), { timeout: 60_000, arbitrary: { runs: 60 } })

    it.effect.prop(
      "RPC over HTTP: a body of bad lines gets a typed 400/413 or typed failures, never a 5xx or a defect, and nothing is stored",
      [Arbitrary.array(rpcLine, { minLength: 1, maxLength: 4 })],
      ([lines]) =>
        Effect.gen(function*() {
          const reply = yield* send("POST", "/rpc", `${lines.join("\n")}\n`, { "content-type": "application/ndjson" })
          if (reply.status === 200) assertNoDefect(reply.text)
          else {
            assert.include([400, 413], reply.status, reply.text)
            assertTyped(reply)
          }
          yield* stillHealthy
        }),
      { timeout: 60_000, arbitrary: { runs: 60 } }
    )

    it.effect.prop(
      "RPC over WebSocket: a bad line closes the socket with a code and a reason, or gets a typed failure; nothing is stored",
      [rpcLine],
      ([line]) =>
        Effect.gen(function*() {
          const base = yield* baseUrl
          const outcome = yield* Effect.promise(() =>
            new Promise<{ readonly code?: number; readonly reason?: string; readonly messages: Array<string> }>((resolve) => {
              const messages: Array<string> = []
              const socket = new WebSocket(`${base.replace(/^http/, "ws")}/ws`)
              let timer: ReturnType<typeof setTimeout> | undefined
              const done = (code?: number, reason?: string) => {
                clearTimeout(timer)
                resolve({ ...(code === undefined ? {} : { code, reason: reason ?? "" }), messages })
              }
              socket.onopen = () => {
                socket.send(`${line}\n`)
                // A line that needs no answer (an Ack, an Eof) gets none: stop waiting a while after it is sent. Counted
                // from the open, not from the socket's creation: a connection still being made when the wait ran out
                // was closed by the client itself (1006), under a loaded machine's slow accepts.
                timer = setTimeout(() => {
                  socket.close()
                  done()
                }, 300)
              }
              socket.onmessage = (event) => {
                messages.push(String(event.data))
                socket.close()
                done()
              }
              socket.onclose = (event) => done(event.code, event.reason)
            })
          )
          if (outcome.code !== undefined && outcome.code !== 1000 && outcome.code !== 1005) {
            assert.include([1007, 1008, 1009], outcome.code)
            assert.isNotEmpty(outcome.reason)
          }
          for (const message of outcome.messages) assertNoDefect(message)
          yield* stillHealthy
        }),
      { timeout: 60_000, arbitrary: { runs: 40 } }
    )
  })
})

describe("hostile input, the reported cases", () => {
  layer(testServer(settings), { excludeTestServices: true, timeout: "60 seconds" })("against the whole service", (it) => {
    it.effect("REST: a 10,000-level nested body is refused at the door with 400 naming the limit, wherever it is sent", () =>
      Effect.gen(function*() {
        const headers = { authorization: "Bearer ops-token", "content-type": "application/json" }
        const deep = nestedText(10_000, "0")
        for (
          const [path, body] of [
            ["/api/tasks/demo-scan", `{"fromBlock":1,"toBlock":2,"delayMillis":0,"extra":${deep}}`],
            ["/api/purge", `{"olderThanMillis":${deep}}`],
            ["/api/tasks/demo-scan?wait=true", deep]
          ] as const
        ) {
          const reply = yield* send("POST", path, body, headers)
          assert.strictEqual(reply.status, 400, reply.text)
          assert.deepInclude(JSON.parse(reply.text), { _tag: "PayloadTooDeep", limit: 32 })
        }
        yield* stillHealthy
      }))

    it.effect("REST: a 10 MB body is refused with 413 and a typed body, reading no further than the limit", () =>
      Effect.gen(function*() {
        const headers = { authorization: "Bearer alice-token", "content-type": "application/json" }
        const body = JSON.stringify({ fromBlock: 1, toBlock: 2, delayMillis: 0, pad: "x".repeat(10 * 1024 * 1024) })
        const reply = yield* send("POST", "/api/tasks/demo-scan", body, headers)
        assert.strictEqual(reply.status, 413, reply.text)
        assert.deepStrictEqual(JSON.parse(reply.text), { _tag: "PayloadTooLarge", size: 65537, limit: 65536 })
        yield* stillHealthy
      }))

    it.effect("RPC over HTTP: the reported bad frames get a typed 400 naming the problem", () =>
      Effect.gen(function*() {
        const auth = [["authorization", "Bearer alice-token"]]
        const line = (message: object) => `${JSON.stringify(message)}\n`
        const cases: ReadonlyArray<readonly [string, string]> = [
          [line({ _tag: "Request", id: "1", tag: "Stats", payload: null, headers: null }), "frame"],
          [line({ _tag: "Request", id: "1", tag: "Stats", payload: null, headers: {} }), "frame"],
          [line({ _tag: "Request", id: "1", tag: "Stats", payload: null, headers: [null] }), "frame"],
          [line({ _tag: "Request", id: "1", tag: "Stats", payload: null, headers: [[1, 2]] }), "frame"],
          // Stats takes no payload: none, null and {} alike are served; any other payload is refused
          [line({ _tag: "Request", id: "1", tag: "Stats", payload: { x: 1 }, headers: auth }), "payload"],
          [line({ _tag: "Request", id: "1", tag: "Stats", payload: [], headers: auth }), "payload"],
          [line({ _tag: "Request", id: "1", tag: "Nope", payload: {}, headers: auth }), "unknown-rpc"],
          [line({ _tag: "Request", id: {}, tag: "Stats", payload: null, headers: auth }), "frame"],
          [line({ _tag: "Request", id: null, tag: "Stats", payload: null, headers: auth }), "frame"],
          [line({ _tag: "Request", id: true, tag: "Stats", payload: null, headers: auth }), "frame"],
          [Array.from({ length: 200 }, () => line({ _tag: "Request", id: "7", tag: "Stats", payload: null, headers: auth })).join(""), "duplicate-id"]
        ]
        for (const [body, problem] of cases) {
          const reply = yield* send("POST", "/rpc", body, { "content-type": "application/ndjson" })
          assert.strictEqual(reply.status, 400, body.slice(0, 200))
          assert.deepInclude(JSON.parse(reply.text), { _tag: "MalformedRequest", problem })
        }
        yield* stillHealthy
      }))

    it.effect("RPC over WebSocket: a message over the body limit closes the socket with 1009 before it is served", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        // Two MiB of well-formed pings: only the size is wrong.
        const pings = `${JSON.stringify({ _tag: "Ping" })}\n`.repeat(Math.ceil((2 * 1024 * 1024) / 16))
        const outcome = yield* Effect.promise(() =>
          new Promise<{ readonly code: number; readonly answers: number }>((resolve) => {
            let answers = 0
            const socket = new WebSocket(`${base.replace(/^http/, "ws")}/ws`)
            socket.onopen = () => socket.send(pings)
            socket.onmessage = () => answers++
            socket.onclose = (event) => resolve({ code: event.code, answers })
          })
        )
        assert.deepStrictEqual(outcome, { code: 1009, answers: 0 })
        yield* stillHealthy
      }))

    it.effect("RPC over WebSocket: a frame that is not a message closes the socket with 1007 and a reason", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const closed = yield* Effect.promise(() =>
          new Promise<{ readonly code: number; readonly reason: string }>((resolve) => {
            const socket = new WebSocket(`${base.replace(/^http/, "ws")}/ws`)
            socket.onopen = () => socket.send("{oops\n")
            socket.onclose = (event) => resolve({ code: event.code, reason: event.reason })
          })
        )
        assert.strictEqual(closed.code, 1007)
        assert.include(closed.reason, "MalformedRequest")
        yield* stillHealthy
      }))
  })
})

/** Opens a raw connection, sends `text` and never finishes; resolves with what the server sent once it closed the connection. */
const sendAndStall = (base: string, text: string) =>
  Effect.promise(() =>
    new Promise<string>((resolve) => {
      const { hostname, port } = new URL(base)
      const socket = connect(Number(port), hostname, () => socket.write(text))
      let answer = ""
      socket.on("data", (chunk) => (answer += chunk.toString()))
      socket.on("close", () => resolve(answer))
      socket.on("error", () => undefined)
    })
  )

describe("hostile input, slow clients", () => {
  layer(
    testServer({ ...settings, headersTimeout: Duration.millis(200), requestTimeout: Duration.millis(400) }),
    { excludeTestServices: true, timeout: "60 seconds" }
  )("against the whole service", (it) => {
    it.effect("headers sent without their end, or a chunked body that never finishes, lose their connection", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const partialHeaders = yield* sendAndStall(base, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert.match(partialHeaders, /^(HTTP\/1\.1 408|$)/)
        const partialBody = yield* sendAndStall(
          base,
          "POST /api/tasks/demo-scan HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer alice-token\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"fro\r\n"
        )
        assert.notMatch(partialBody, /^HTTP\/1\.1 (2|5)\d\d/)
        yield* stillHealthy
      }))
  })
})
