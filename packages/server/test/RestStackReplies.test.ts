/**
 * The REST stack's replies byte for byte where other tests read them loosely,
 * against the whole service on 127.0.0.1 (one worker, so a second task
 * waits): the supervisor's stats then, a result of a task still pending and
 * of one interrupted without a message of its own; a task's webhook
 * deliveries (none, or 404 for no such task); a webhook refused by a service
 * without webhooks; a listing by cursor and page number; a request no route
 * serves, whose body the payload limit leaves alone (404, not 413); `/api/events` framing its first event with the
 * reconnection delay (and no other event with it); and a task's event stream
 * served by the stack rather than the hot-read path in front of it (an extra
 * query parameter sends a read there), with its end and its 204 afterwards;
 * a body within the byte limit whose payload outgrows it once encoded
 * (the access rules measure the payload as stored), over the lean path and
 * the stack alike; a body over the limit the stack reads (413 at the limit),
 * and a read carrying one, a GET or a HEAD (served: the limit holds payloads only); the same limit on every
 * spelling of a task endpoint the router accepts, and a malformed escape in a kind path answered 404; and the readiness probe
 * of a service draining its tasks (a service of that test's own).
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { HttpServer } from "effect/http"
import * as Http from "node:http"
import { TasksConfig } from "@chainjobs/tasks"
import { endEvent } from "../src/RestServer.ts"
import { baseUrl, request, sseData, testServer } from "./http.ts"

/** A scan that runs until interrupted. */
const endlessScan = { fromBlock: 0, toBlock: 1_000_000, delayMillis: 1000 }

/** Reads a response's body as text until `done` holds for it (or the body ends), then closes the connection. */
const readUntil = (path: string, headers: Record<string, string>, done: (text: string) => boolean) =>
  Effect.flatMap(baseUrl, (base) =>
    Effect.promise(async () => {
      const controller = new AbortController()
      const response = await fetch(base + path, { headers, signal: controller.signal })
      // A 204 has no body at all.
      const reader = response.body?.pipeThrough(new TextDecoderStream()).getReader()
      let text = ""
      while (reader !== undefined) {
        if (done(text)) break
        const { done: ended, value } = await reader.read()
        if (ended) break
        text += value
      }
      controller.abort()
      return { status: response.status, headers: response.headers, text }
    }))

/**
 * Sends `method path` with a JSON body of about 1,000 bytes (over every limit
 * here) through a plain HTTP request — `fetch` sends no body with a GET or a
 * HEAD; some clients do — and reads its status and body text.
 */
const withOversizedBody = (method: "GET" | "HEAD", path: string) =>
  Effect.flatMap(baseUrl, (base) =>
    Effect.callback<{ status: number; text: string }>((resume) => {
      const body = JSON.stringify({ filler: "x".repeat(1000) })
      const headers = { "content-type": "application/json", "content-length": Buffer.byteLength(body) }
      const sent = Http.request(`${base}${path}`, { method, headers }, (response) => {
        let text = ""
        response.setEncoding("utf8").on("data", (chunk: string) => text += chunk)
        response.on("end", () => resume(Effect.succeed({ status: response.statusCode ?? 0, text })))
      })
      sent.on("error", (error) => resume(Effect.die(error)))
      sent.end(body)
    }))

/** Interrupts the tasks `ids` name when `effect` ends, however it ends. */
const interruptingAfter = <A, E, R>(ids: ReadonlyArray<string>, effect: Effect.Effect<A, E, R>) =>
  Effect.ensuring(effect, Effect.forEach(ids, (id) => request("POST", `/api/tasks/${id}/interrupt`), { discard: true }))

layer(
  testServer({ tasks: TasksConfig.make({ maxWorkers: 1, shutdownGracePeriod: Duration.seconds(1) }), maxPayloadBytes: 200 }),
  { excludeTestServices: true }
)("REST stack replies", (it) => {
  it.effect("a pending task's result is a 202 saying pending; interrupted without a message, a 409 saying what happened", () =>
    Effect.gen(function*() {
      const running = (yield* request("POST", "/api/tasks/demo-scan", { body: endlessScan })).body.taskId as string
      const waiting = (yield* request("POST", "/api/tasks/demo-scan", { body: endlessScan })).body.taskId as string
      yield* interruptingAfter(
        [running, waiting],
        Effect.gen(function*() {
          // One worker, busy with the first task: the second is pending until it ends.
          let stats = (yield* request("GET", "/api/stats")).body
          while (stats.running === 0) {
            yield* Effect.sleep("10 millis")
            stats = (yield* request("GET", "/api/stats")).body
          }
          assert.deepStrictEqual(stats, { pending: 1, running: 1, maxWorkers: 1, runningByKind: { "demo-scan": 1 }, accepting: true })
          const pending = yield* request("GET", `/api/tasks/${waiting}/result`)
          assert.deepStrictEqual([pending.status, pending.body], [202, {
            taskId: waiting,
            status: "pending",
            progress: 0,
            message: null
          }])
          assert.strictEqual((yield* request("POST", `/api/tasks/${waiting}/interrupt`)).body.status, "interrupted")
          const interrupted = yield* request("GET", `/api/tasks/${waiting}/result`)
          assert.deepStrictEqual([interrupted.status, interrupted.body], [409, {
            _tag: "TaskFailed",
            taskId: waiting,
            status: "interrupted",
            reason: null,
            error: null,
            message: `task ${waiting} was interrupted`
          }])
        })
      )
    }))

  it.effect("/api/events starts with the ready event and the reconnection delay; a reset that follows carries no delay", () =>
    Effect.gen(function*() {
      // An id this server never sent: the stream says `reset` (unknown) after `ready`.
      const stream = yield* readUntil("/api/events", { "last-event-id": "never-sent" }, (text) => text.includes("event: reset"))
      assert.strictEqual(stream.status, 200)
      assert.strictEqual(stream.headers.get("content-type"), "text/event-stream")
      assert.strictEqual(stream.headers.get("cache-control"), "no-cache")
      const frames = stream.text.split("\n\n")
      assert.match(frames[0], /^retry: 500\nevent: ready\ndata: \{.*\}$/, stream.text)
      assert.match(frames[1], /^event: reset\ndata: \{.*\}$/, stream.text)
      assert.strictEqual(sseData(frames[1])[0].reason, "unknown")
    }))

  it.effect("a task's stream through the stack: its records, then the end event; reconnecting after the end is a 204", () =>
    Effect.gen(function*() {
      const done = (yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: { fromBlock: 1, toBlock: 2, delayMillis: 0 } })).body
      const end = new TextDecoder().decode(endEvent)
      const stream = yield* readUntil(`/api/tasks/${done.id}/events?via=stack`, {}, (text) => text.endsWith(end))
      assert.strictEqual(stream.status, 200)
      assert.strictEqual(stream.headers.get("content-type"), "text/event-stream")
      assert.strictEqual(stream.headers.get("cache-control"), "no-cache")
      assert.isTrue(stream.text.endsWith(end), stream.text)
      assert.deepStrictEqual(sseData(stream.text).map((record) => [record.id, record.status]), [[done.id, "completed"]])
      const after = yield* readUntil(`/api/tasks/${done.id}/events?via=stack`, { "last-event-id": "end" }, () => false)
      assert.deepStrictEqual([after.status, after.text], [204, ""])
      // A task not finished is streamed all the same: the `end` it names is of another stream.
      const running = (yield* request("POST", "/api/tasks/demo-scan", { body: endlessScan })).body.taskId as string
      const live = yield* interruptingAfter(
        [running],
        readUntil(`/api/tasks/${running}/events?via=stack`, { "last-event-id": "end" }, (text) => text.includes("\n\n"))
      )
      assert.strictEqual(live.status, 200)
      assert.strictEqual(sseData(live.text)[0].id, running)
    }))

  it.effect("a body within the limit whose payload encodes larger than the limit is refused 413 with the encoded size", () =>
    Effect.gen(function*() {
      // 10 numbers of 4 characters, 57 bytes in all; encoded, each is 21 digits: 10 × 21 + 17 = 227 bytes.
      const body = `{"n":[${Array.from({ length: 10 }, () => "1e20").join(",")}]}`
      assert.isBelow(Buffer.byteLength(body), 200)
      const refused = yield* Effect.flatMap(baseUrl, (base) =>
        Effect.promise(async () => {
          const response = await fetch(`${base}/api/tasks/demo-scan`, { method: "POST", headers: { "content-type": "application/json" }, body })
          return { status: response.status, body: await response.json() }
        }))
      assert.deepStrictEqual(refused, { status: 413, body: { _tag: "PayloadTooLarge", size: 227, limit: 200 } })
      const none = yield* request("GET", "/api/tasks?kind=demo-scan&limit=1000")
      assert.isFalse(none.body.items.some((task: any) => Array.isArray(task.payload?.n)), none.text)
    }))

  it.effect("a task's webhook deliveries are read only for a task that exists", () =>
    Effect.gen(function*() {
      const done = (yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: { fromBlock: 1, toBlock: 1, delayMillis: 0 } })).body
      const none = yield* request("GET", `/api/tasks/${done.id}/webhooks`)
      assert.deepStrictEqual([none.status, none.body], [200, []])
      const missing = yield* request("GET", "/api/tasks/no-such-task/webhooks")
      assert.deepStrictEqual([missing.status, missing.body._tag], [404, "TaskNotFound"])
    }))

  it.effect("a webhook asked of a service without webhooks is refused 400 WebhookRefused, and no task is made", () =>
    Effect.gen(function*() {
      const before = (yield* request("GET", "/api/tasks?kind=demo-scan&limit=1000")).body.items.length
      const hook = encodeURIComponent("https://example.com/hook")
      const refused = yield* request("POST", `/api/tasks/demo-scan?webhook=${hook}`, { body: { fromBlock: 1, toBlock: 1, delayMillis: 0 } })
      assert.deepStrictEqual([refused.status, refused.body], [400, {
        _tag: "WebhookRefused",
        url: "https://example.com/hook",
        reason: "not-configured"
      }])
      assert.strictEqual((yield* request("GET", "/api/tasks?kind=demo-scan&limit=1000")).body.items.length, before)
    }))

  it.effect("a cursor skips the walk: with a page number too, the page is the one after the cursor", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 3; i++) yield* request("POST", "/api/tasks/demo-fail?wait=true", { body: { steps: 0, delayMillis: 0 } })
      const all = (yield* request("GET", "/api/tasks?kind=demo-fail&limit=1000")).body.items.map((task: any) => task.id)
      assert.isAtLeast(all.length, 3)
      const after = yield* request("GET", `/api/tasks?kind=demo-fail&limit=1&page=2&cursor=${all[0]}`)
      assert.deepStrictEqual(
        [after.body.page, after.body.limit, after.body.items.map((task: any) => task.id), after.body.nextCursor],
        [2, 1, [all[1]], all[1]]
      )
    }))

  it.effect("a request no route serves is 404 whatever its body: the payload limit holds the task endpoints only", () =>
    Effect.gen(function*() {
      const large = { filler: "x".repeat(1000) }
      const nowhere = yield* request("POST", "/api/nowhere", { body: large })
      assert.deepStrictEqual([nowhere.status, nowhere.body], [404, { _tag: "RouteNotFound", method: "POST", path: "/api/nowhere" }])
      // The same body to a task endpoint is over the limit.
      const refused = yield* request("POST", "/api/tasks/demo-scan", { body: large })
      assert.deepStrictEqual([refused.status, refused.body._tag], [413, "PayloadTooLarge"])
    }))

  it.effect("a body over the byte limit that the stack reads (a submission with options, a purge) is refused 413 at the limit", () =>
    Effect.gen(function*() {
      // `?priority=` keeps the submission off the lean path (`HotSubmit`), which holds its own bodies to the limit.
      const large = { filler: "x".repeat(1000) }
      for (const path of ["/api/tasks/demo-scan?priority=1", "/api/purge"]) {
        const refused = yield* request("POST", path, { body: large })
        assert.deepStrictEqual([refused.status, refused.body], [413, { _tag: "PayloadTooLarge", size: 201, limit: 200 }], path)
      }
    }))

  it.effect("every spelling of a task endpoint the router serves holds its body to the limit: case, doubled slashes, escapes", () =>
    Effect.gen(function*() {
      // The router matches paths case-insensitively, with doubled slashes collapsed and escapes decoded: each of these
      // reaches the submit or purge handler, so each must stop reading at the limit (size 201), not read the body whole.
      const large = { filler: "x".repeat(100_000) }
      const spellings = [
        "/api//tasks/demo-scan?priority=1",
        "//api/tasks/demo-scan?priority=1",
        "/API/tasks/demo-scan?priority=1",
        "/api/Tasks/demo-scan?priority=1",
        "/api/%74asks/demo-scan?priority=1",
        "/api//purge",
        "/API/PURGE"
      ]
      for (const path of spellings) {
        const refused = yield* request("POST", path, { body: large })
        assert.deepStrictEqual([refused.status, refused.body], [413, { _tag: "PayloadTooLarge", size: 201, limit: 200 }], path)
      }
    }))

  it.effect("a kind path with a malformed percent escape is a route not found (404), not a defect", () =>
    Effect.gen(function*() {
      const reply = yield* request("POST", "/api/tasks/chain/%E0%A4%A", { body: { fromBlock: 0 } })
      assert.deepStrictEqual([reply.status, reply.body], [404, { _tag: "RouteNotFound", method: "POST", path: "/api/tasks/chain/%E0%A4%A" }])
    }))

  it.effect("a body within the limit whose payload encodes larger, sent to the stack, is refused 413 with the encoded size too", () =>
    Effect.gen(function*() {
      // The body of the lean path's case above (227 bytes encoded); `?priority=` has the REST handler refuse it.
      const body = `{"n":[${Array.from({ length: 10 }, () => "1e20").join(",")}]}`
      const refused = yield* Effect.flatMap(baseUrl, (base) =>
        Effect.promise(async () => {
          const response = await fetch(`${base}/api/tasks/demo-scan?priority=1`, { method: "POST", headers: { "content-type": "application/json" }, body })
          return { status: response.status, text: await response.text() }
        }))
      assert.deepStrictEqual(refused, { status: 413, text: JSON.stringify({ _tag: "PayloadTooLarge", size: 227, limit: 200 }) })
    }))

  it.effect("a read that carries a body over the byte limit is served all the same: the limit holds payloads only", () =>
    Effect.gen(function*() {
      const reply = yield* withOversizedBody("GET", "/api/tasks?limit=1")
      assert.strictEqual(reply.status, 200, reply.text)
      assert.isArray(JSON.parse(reply.text).items)
    }))

  it.effect("a HEAD carrying a body over the byte limit is answered as its GET is, headers only: no 413", () =>
    Effect.gen(function*() {
      const reply = yield* withOversizedBody("HEAD", "/api/tasks?limit=1")
      assert.strictEqual(reply.status, 200)
      assert.strictEqual(reply.text, "")
    }))
})

describe("REST stack replies while the service stops", () => {
  it.live("while running tasks drain, the readiness probe answers 503 shutting-down (liveness stays ok)", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const service = yield* Layer.buildWithScope(
        // a grace period past the test's timeout: the drain ends when the test interrupts the task, not at a time
        testServer({ tasks: TasksConfig.make({ shutdownGracePeriod: Duration.minutes(10) }) }),
        scope
      )
      const inService = <A, E>(effect: Effect.Effect<A, E, HttpServer.HttpServer>) => Effect.provideContext(effect, service)
      const base = yield* inService(baseUrl)
      assert.deepStrictEqual((yield* inService(request("GET", "/readyz"))).body, { status: "ready" })
      const running = (yield* inService(request("POST", "/api/tasks/demo-scan", { body: endlessScan }))).body.taskId
      assert.isString(running)
      // The drain of the running task holds the service open until the task ends.
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      const probe = () => fetch(`${base}/readyz`).then(async (response) => ({ status: response.status, body: await response.json() }))
      const seen = yield* Effect.promise(async () => {
        let last = await probe()
        while (last.status === 200) {
          await new Promise((resolve) => setTimeout(resolve, 10))
          last = await probe()
        }
        return last
      })
      assert.deepStrictEqual(seen, { status: 503, body: { status: "shutting-down" } }, "the first probe not answered 200")
      const alive = yield* Effect.promise(() => fetch(`${base}/healthz`).then((response) => response.json()))
      assert.deepStrictEqual(alive, { status: "ok" })
      // The task interrupted, the drain is over and the service closes.
      assert.strictEqual((yield* inService(request("POST", `/api/tasks/${running}/interrupt`))).body.status, "interrupted")
      yield* Fiber.join(closing)
    }), 30_000)
})
