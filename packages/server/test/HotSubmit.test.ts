/**
 * The lean submit path against the HttpApi stack, on the whole service on
 * 127.0.0.1: the same request is sent to `POST /api/tasks/:kind`, which the
 * lean path takes, and with `?wait=false` (the same submission, which the
 * lean path leaves to the stack), and the two answers must be the same
 * bytes — status line, headers but the date, body (the new task's id put
 * aside) — for generated submissions good and hostile: any JSON, wrong
 * types, not JSON, empty, too deep, too large (in multi-byte characters),
 * unknown kinds, a number out of range (`1e400`: 400 on both, no task); a
 * query naming `access_token` twice (401 on both). With a small quota, the
 * 429s match too (their wait put aside), and one principal's spent quota
 * does not refuse another's.
 * Against a stack that answers `418 stack` (`hotFront`), what the lean path
 * takes is answered without it, and what it does not take reaches it unread.
 * A body of exactly the payload limit is read, one byte more is too large,
 * on both paths; a body that arrives in two chunks is read whole; a method
 * other than POST is left to the stack (by the submit path alone too). A client gone while its body is read
 * gets no answer, its body's read ends then, and the request is not timed
 * in `/metrics`.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Arbitrary, Effect, Metric, Option, Redacted, Schema } from "effect"
import type { IncomingMessage } from "node:http"
import { connect } from "node:net"
import { TaskStore } from "@chainjobs/tasks"
import { frontServerWith, services, tokens } from "./hotFront.ts"
import * as HotReads from "../src/HotReads.ts"
import * as HotSubmit from "../src/HotSubmit.ts"
import { baseUrl, testServer } from "./http.ts"

const settings = {
  authTokens: { alice: Redacted.make("alice-token"), bob: Redacted.make("bob-token") },
  maxPayloadBytes: 300,
  maxPayloadDepth: 4
}

/** One request written out raw (HTTP/1.1, `connection: close`), and the whole answer read back. */
const exchange = (port: number, method: string, path: string, headers: Record<string, string>, body: string) =>
  new Promise<string>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1")
    const chunks: Array<Buffer> = []
    socket.on("data", (chunk) => chunks.push(chunk))
    socket.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    socket.on("error", reject)
    const lines = Object.entries({ host: "127.0.0.1", ...headers, "content-length": String(Buffer.byteLength(body)), connection: "close" })
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join("")
    socket.end(`${method} ${path} HTTP/1.1\r\n${lines}\r\n${body}`)
  })

/** An answer with its date header and the new task's id (wherever it appears) put aside. */
const comparable = (raw: string) => {
  const id = /"taskId":"([^"]+)"/.exec(raw)?.[1]
  const withoutDate = raw.replace(/\r\ndate: [^\r]*/i, "")
  return id === undefined ? withoutDate : withoutDate.replaceAll(id, "<id>")
}

const port = Effect.map(baseUrl, (base) => Number(new URL(base).port))

/** The lean path's answer and the stack's to the same submission. */
const bothAnswers = (kind: string, headers: Record<string, string>, body: string) =>
  Effect.flatMap(port, (port) =>
    Effect.promise(async () => {
      const lean = await exchange(port, "POST", `/api/tasks/${kind}`, headers, body)
      const stack = await exchange(port, "POST", `/api/tasks/${kind}?wait=false`, headers, body)
      return { lean: comparable(lean), stack: comparable(stack) }
    }))

/** JSON text nested `levels` arrays deep around `inner`. */
const nested = (levels: number, inner: string) => "[".repeat(levels) + inner + "]".repeat(levels)

const json = Arbitrary.schema(Schema.Json)
const text = Arbitrary.schema(Schema.String)
const small = Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 400 })))

/** A submission's kind and body: good, of wrong types, not JSON, empty, too deep, too large, of no kind, with a BOM, with a number out of range. */
const submission: Arbitrary.Arbitrary<{ readonly kind: string; readonly body: string }> = Arbitrary.flatMap(
  Arbitrary.schema(Schema.Literals(["good", "any-json", "wrong-types", "not-json", "empty", "too-deep", "too-large", "no-kind", "bom", "out-of-range"])),
  (shape): Arbitrary.Arbitrary<{ readonly kind: string; readonly body: string }> => {
    switch (shape) {
      case "good":
        return Arbitrary.map(small, (n) => ({ kind: "demo-scan", body: JSON.stringify({ fromBlock: 1, toBlock: 1 + (n % 3), delayMillis: 0 }) }))
      case "any-json":
        return Arbitrary.map(json, (value) => ({ kind: "demo-scan", body: JSON.stringify(value) ?? "null" }))
      case "wrong-types":
        return Arbitrary.map(Arbitrary.all([json, json]), ([from, to]) => ({
          kind: "demo-scan",
          body: JSON.stringify({ fromBlock: from, toBlock: to, delayMillis: "0" })
        }))
      case "not-json":
        return Arbitrary.map(text, (garbage) => ({ kind: "demo-scan", body: `{${garbage}` }))
      case "empty":
        return Arbitrary.map(small, (n) => ({ kind: "demo-scan", body: " ".repeat(n % 2) }))
      case "too-deep":
        return Arbitrary.map(small, (n) => ({ kind: "demo-scan", body: nested(5 + (n % 40), "0") }))
      case "too-large":
        return Arbitrary.map(small, (n) => ({ kind: "demo-scan", body: JSON.stringify({ pad: "é".repeat(100 + n) }) }))
      case "no-kind":
        return Arbitrary.map(Arbitrary.all([small, json]), ([n, value]) => ({
          kind: `no-such-kind-${n}`,
          body: JSON.stringify(value) ?? "null"
        }))
      case "out-of-range":
        // Past the largest double (1.8e308): `JSON.parse` reads it as infinite.
        return Arbitrary.map(small, (n) => ({
          kind: "demo-scan",
          body: `{"fromBlock":1,"toBlock":2,"delayMillis":0,"x":[${n},${n % 2 === 0 ? "-" : ""}1e${309 + n}]}`
        }))
      case "bom":
        return Arbitrary.map(small, (n) => ({ kind: "demo-scan", body: `\uFEFF{"fromBlock":1,"toBlock":${n},"delayMillis":0}` }))
    }
  }
)

describe("HotSubmit", () => {
  layer(testServer(settings), { excludeTestServices: true, timeout: "60 seconds" })("against the stack", (it) => {
    it.effect.prop("a generated submission gets the same bytes from the lean path as from the stack", [submission], ([{ body, kind }]) =>
      Effect.gen(function*() {
        for (const headers of [{ authorization: "Bearer alice-token", "content-type": "application/json" }, { authorization: "Bearer bob-token" }]) {
          const { lean, stack } = yield* bothAnswers(kind, headers, body)
          assert.strictEqual(lean, stack, `${kind} ${JSON.stringify(body.slice(0, 80))}`)
        }
      }), { timeout: 60_000, arbitrary: { runs: 60 } })

    it.effect("refusals the lean path leaves to the stack are the stack's: no token, a bad one, another content type", () =>
      Effect.gen(function*() {
        const body = JSON.stringify({ fromBlock: 1, toBlock: 2, delayMillis: 0 })
        for (const headers of [{}, { authorization: "Bearer forged" }, { authorization: "Bearer alice-token", "content-type": "text/plain" }]) {
          const { lean, stack } = yield* bothAnswers("demo-scan", headers, body)
          assert.strictEqual(lean, stack)
          assert.match(lean, /^HTTP\/1\.1 4(01|15)/)
        }
      }))

    it.effect("a query naming access_token twice gets the stack's 401 on both paths, a good token among them or not: no task", () =>
      Effect.gen(function*() {
        const at = yield* port
        const body = JSON.stringify({ fromBlock: 1, toBlock: 2, delayMillis: 0 })
        for (const query of ["access_token=forged&access_token=alice-token", "access_token=alice-token&access_token=alice-token"]) {
          const lean = yield* Effect.promise(() => exchange(at, "POST", `/api/tasks/demo-scan?${query}`, {}, body))
          const stack = yield* Effect.promise(() => exchange(at, "POST", `/api/tasks/demo-scan?${query}&wait=false`, {}, body))
          assert.strictEqual(comparable(lean), comparable(stack))
          assert.match(lean, /^HTTP\/1\.1 401/)
        }
      }))

    it.effect("a number out of range anywhere in the body is the stack's 400 on both paths, not a task storing null", () =>
      Effect.gen(function*() {
        for (
          const body of [
            "1e400",
            "{\"fromBlock\":1,\"toBlock\":2,\"delayMillis\":0,\"x\":1e400}",
            "{\"fromBlock\":1,\"toBlock\":2,\"delayMillis\":0,\"x\":[-1e999]}"
          ]
        ) {
          const { lean, stack } = yield* bothAnswers("demo-scan", { authorization: "Bearer alice-token" }, body)
          assert.strictEqual(lean, stack, body)
          assert.match(lean, /^HTTP\/1\.1 400 [^]*"_tag":"BadRequest"/)
        }
      }))

    it.effect("a body of exactly the limit's bytes is read, one byte more is too large: the same answers on both paths", () =>
      Effect.gen(function*() {
        const headers = { authorization: "Bearer alice-token" }
        // A good scan padded with spaces (JSON whitespace) to `bytes`.
        const scan = JSON.stringify({ fromBlock: 1, toBlock: 2, delayMillis: 0 })
        const padded = (bytes: number) => scan + " ".repeat(bytes - scan.length)
        const atLimit = yield* bothAnswers("demo-scan", headers, padded(settings.maxPayloadBytes))
        assert.strictEqual(atLimit.lean, atLimit.stack)
        assert.match(atLimit.lean, /^HTTP\/1\.1 202/)
        const past = yield* bothAnswers("demo-scan", headers, padded(settings.maxPayloadBytes + 1))
        assert.strictEqual(past.lean, past.stack)
        assert.match(past.lean, /^HTTP\/1\.1 413/)
      }))
  })

  layer(testServer({ ...settings, submitLimit: 1, submitBurst: Option.some(1) }), { excludeTestServices: true, timeout: "60 seconds" })(
    "with a quota of one a second",
    (it) => {
      it.effect("past the quota both answer 429 with the same headers and body (the wait aside), and another principal is not refused", () =>
        Effect.gen(function*() {
          const body = JSON.stringify({ fromBlock: 1, toBlock: 1, delayMillis: 0 })
          const alice = { authorization: "Bearer alice-token" }
          const at = yield* port
          // Submits on one path until refused: the second in a row is, unless a second passed between them.
          const refused = (path: string) =>
            Effect.promise(async () => {
              const seen: Array<string> = []
              while (seen.length < 20) {
                seen.push(await exchange(at, "POST", path, alice, body))
                if (seen.at(-1)!.startsWith("HTTP/1.1 429")) return seen.at(-1)!
              }
              throw new Error(`no 429 in 20 submissions on ${path}: ${seen.map((raw) => raw.slice(0, 12)).join(", ")}`)
            })
          const waitAside = (raw: string) => comparable(raw).replace(/"retryAfterMillis":\d+/, "\"retryAfterMillis\":<ms>")
          const lean = yield* refused("/api/tasks/demo-scan")
          const stack = yield* refused("/api/tasks/demo-scan?wait=false")
          assert.match(lean, /^HTTP\/1\.1 429[^]*retry-after: 1\r\n/)
          assert.strictEqual(waitAside(lean), waitAside(stack))
          // Bob's bucket is his own.
          assert.match(yield* Effect.promise(() => exchange(at, "POST", "/api/tasks/demo-scan", { authorization: "Bearer bob-token" }, body)), /^HTTP\/1\.1 202/)
        }))
    }
  )
})

describe("HotSubmit in front of a stack that answers 418", () => {
  it.live("takes a submission with a token and a JSON body, good or bad; leaves the rest to the stack, body unread", () =>
    Effect.scoped(Effect.gen(function*() {
      const base = yield* frontServerWith(HotReads.makeFront)
      const port = Number(new URL(base).port)
      const send = (path: string, headers: Record<string, string>, body: string) =>
        Effect.promise(() => exchange(port, "POST", path, headers, body))
      const alice = { authorization: `Bearer ${tokens.alice}` }
      const good = JSON.stringify({ fromBlock: 1, toBlock: 2, delayMillis: 0 })
      const taken: Array<[string, Record<string, string>, string, RegExp]> = [
        ["/api/tasks/demo-scan", alice, good, /^HTTP\/1\.1 202/],
        ["/api/tasks/demo-scan", { ...alice, "content-type": "application/json" }, "{nope", /^HTTP\/1\.1 400[^]*BadRequest/],
        ["/api/tasks/demo-scan", alice, "x".repeat(70_000), /^HTTP\/1\.1 413/],
        [`/api/tasks/demo-scan?access_token=${tokens.bob}`, {}, good, /^HTTP\/1\.1 202/],
        ["/api/tasks/no-such", alice, good, /^HTTP\/1\.1 404[^]*UnknownTaskKind/]
      ]
      for (const [path, headers, body, expected] of taken) assert.match(yield* send(path, headers, body), expected, path)
      const left: Array<[string, Record<string, string>]> = [
        ["/api/tasks/demo-scan", {}],
        ["/api/tasks/demo-scan", { authorization: "Bearer forged" }],
        ["/api/tasks/demo-scan?wait=true", alice],
        ["/api/tasks/demo-scan", { ...alice, "content-type": "text/plain" }],
        ["/api/tasks/chain%2Fscan", alice],
        ["/api/tasks/x/interrupt", alice]
      ]
      for (const [path, headers] of left) assert.match(yield* send(path, headers, good), /^HTTP\/1\.1 418/, path)
      // Another method, to the submit path alone (the front hands it only POSTs): left to the stack too.
      const submitOnly = Number(new URL(yield* frontServerWith(HotSubmit.make)).port)
      for (const method of ["PUT", "PATCH"]) {
        assert.match(yield* Effect.promise(() => exchange(submitOnly, method, "/api/tasks/demo-scan", alice, good)), /^HTTP\/1\.1 418/, method)
      }
    }).pipe(Effect.provide(services(TaskStore.layerMemory)))))
})

/**
 * The lean front on a server of its own, telling `listening` when the lean path listens for a request's body (its
 * `data` listener, the first it adds: the others follow in the same step, before the told promise's reader resumes;
 * told by the last, `aborted`, a change to that name left the test waiting to its bound); its port.
 */
const frontTelling = (listening: (request: IncomingMessage) => void) =>
  Effect.map(
    frontServerWith(Effect.map(HotReads.makeFront, (handler): HotReads.Handler => (request, response, next) => {
      request.on("newListener", (event) => event === "data" && listening(request))
      handler(request, response, next)
    })),
    (base) => Number(new URL(base).port)
  )

describe("HotSubmit and a body in two chunks", () => {
  it.live("reads the whole body: the second chunk is sent once the lean path listens for it", () =>
    Effect.scoped(Effect.gen(function*() {
      let reading = (): void => {}
      const bodyRead = new Promise<void>((resolve) => reading = resolve)
      const port = yield* frontTelling(reading)
      const body = JSON.stringify({ fromBlock: 1, toBlock: 2, delayMillis: 0 })
      const half = body.length >> 1
      const socket = connect(port, "127.0.0.1")
      const chunks: Array<Buffer> = []
      socket.on("data", (chunk) => chunks.push(chunk))
      const ended = new Promise<string>((resolve, reject) => {
        socket.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
        socket.on("error", reject)
      })
      socket.write(
        `POST /api/tasks/demo-scan HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${tokens.alice}\r\n` +
          `content-length: ${body.length}\r\nconnection: close\r\n\r\n${body.slice(0, half)}`
      )
      yield* Effect.promise(() => bodyRead)
      socket.end(body.slice(half))
      assert.match(yield* Effect.promise(() => ended), /^HTTP\/1\.1 202/)
    }).pipe(Effect.provide(services(TaskStore.layerMemory)))))
})

describe("HotSubmit and a client gone while its body is read", () => {
  it.live("answers nothing and times nothing: the request is not counted in /metrics", () => {
    // A registry of the test's own: it sees only this test's requests.
    const registry = new Map()
    return Effect.scoped(Effect.gen(function*() {
      let reading = (): void => {}
      const bodyRead = new Promise<void>((resolve) => reading = resolve)
      let closed = (): void => {}
      const requestClosed = new Promise<void>((resolve) => closed = resolve)
      let cut: IncomingMessage | undefined
      // Told when the lean path listens for the cut request's body and when that request's connection has closed.
      const port = yield* frontTelling((request) => {
        if (request.headers["content-length"] !== "100") return
        cut = request
        request.on("close", () => closed())
        reading()
      })
      const alice = { authorization: `Bearer ${tokens.alice}` }
      assert.match(
        yield* Effect.promise(() => exchange(port, "POST", "/api/tasks/demo-scan", alice, JSON.stringify({ fromBlock: 1, toBlock: 2, delayMillis: 0 }))),
        /^HTTP\/1\.1 202/
      )
      // 100 bytes announced, 10 sent, then the client closes.
      const socket = connect(port, "127.0.0.1")
      socket.on("error", () => {})
      socket.write(`POST /api/tasks/demo-scan HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer ${tokens.alice}\r\ncontent-length: 100\r\n\r\n{"fromBloc`)
      // Gone once the lean path reads its body.
      yield* Effect.promise(() => bodyRead)
      socket.destroy()
      yield* Effect.promise(() => requestClosed)
      // The read ended when the client went ('aborted' comes before 'close'): none of its listeners is left on the request.
      assert.deepStrictEqual(["data", "end", "error", "aborted"].map((event) => cut?.listenerCount(event)), [0, 0, 0, 0])
      // The read's outcome resumes the request's fiber: a few turns of the loop are more than it takes.
      for (let turn = 0; turn < 20; turn++) yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
      const statuses = (yield* Metric.snapshot)
        .filter((metric) => metric.id === "chainjobs_http_request_duration_seconds" && metric.attributes?.method === "POST")
        .map((metric) => metric.attributes?.status)
      assert.deepStrictEqual(statuses, ["202"])
    }).pipe(Effect.provide(services(TaskStore.layerMemory)), Effect.provideService(Metric.MetricRegistry, registry)))
  })
})
