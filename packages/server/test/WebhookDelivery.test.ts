/**
 * What counts as a delivered webhook and how long the service waits between
 * attempts, beside `Webhooks.test.ts`: the backoff doubles from `retryBase`
 * and stops at `retryMax`; any 2xx acknowledges (299 too) and nothing else
 * does — a redirect is not followed, and a receiver that does not answer
 * within `requestTimeout` is an attempt with no status; the attempt's
 * `deliveredAt` and `nextAttemptAt` are as recorded.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import { HttpServer } from "effect/http"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeSqliteClient } from "@chainjobs/store-sql"
import * as WebhookStore from "../src/WebhookStore.ts"
import * as Webhooks from "../src/Webhooks.ts"
import { testServer } from "./http.ts"

const millis = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100_000 }))

/** A receiver on 127.0.0.1 answering every request with `answer`; the paths it was asked for, in order. */
const receiverAnswering = (answer: (request: IncomingMessage, response: ServerResponse) => void) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const paths: Array<string> = []
      const headers: Array<IncomingMessage["headers"]> = []
      const server = createServer((request, response) => {
        paths.push(request.url ?? "")
        headers.push(request.headers)
        request.resume()
        request.on("end", () => answer(request, response))
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      return { server, paths, headers, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
    }),
    ({ server }) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        })
      )
  )

/** The service with webhooks signed and allowed to 127.0.0.1, and one attempt per delivery unless told. */
const serviceWith = (overrides: Partial<Webhooks.WebhookSettings>) =>
  Effect.map(
    Layer.build(testServer({
      webhooks: {
        ...Webhooks.defaults,
        secret: Option.some(Redacted.make("whsec-delivery")),
        allowHosts: ["127.0.0.1"],
        maxAttempts: 1,
        ...overrides
      }
    })),
    (context) => HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
  )

/** How long `deliverTo` waits for a delivery to be settled (its attempts take at most 2 × 100 ms plus a 50 ms backoff here). */
const settleMillis = 15_000

/**
 * The bound of a test that builds a service and waits for deliveries: the
 * service's start and `settleMillis` per delivery. vitest's 5 s default was
 * the only bound before, and a service start plus one delivery took 5.5 s
 * at load average 26.
 */
const serviceTestMillis = 30_000 + 3 * settleMillis

/** Submits a quick scan with a webhook to `hook`; waits (at most `settleMillis`) until its delivery is no longer waiting or due. */
const deliverTo = (base: string, hook: string) =>
  Effect.gen(function*() {
    const submitted = yield* Effect.promise(() =>
      fetch(`${base}/api/tasks/demo-scan?webhook=${encodeURIComponent(hook)}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ fromBlock: 1, toBlock: 1, delayMillis: 0 })
      }).then((response) => response.json() as Promise<{ taskId: string }>)
    )
    const deadline = Date.now() + settleMillis
    let delivery: any
    while (Date.now() < deadline) {
      ;[delivery] = yield* Effect.promise(() =>
        fetch(`${base}/api/tasks/${submitted.taskId}/webhooks`).then((response) => response.json() as Promise<Array<any>>)
      )
      if (delivery !== undefined && (delivery.state === "delivered" || delivery.state === "failed")) return delivery
      yield* Effect.sleep("20 millis")
    }
    return assert.fail(`the delivery of task ${submitted.taskId} to ${hook} not settled within ${settleMillis} ms; last seen: ${JSON.stringify(delivery)}`)
  })

describe("webhook delivery", () => {
  it.live("at start, a waiting webhook whose task no longer exists is given up; one whose task finished is sent", () =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "chainjobs-webhook-sweep-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const hook = yield* receiverAnswering((_, response) => response.writeHead(204).end())
      const webhooks = NodeSqliteClient.layer({ filename: join(dataDir, "webhooks.db") })
      // A webhook left waiting for a task the service has no record of (deleted while it was down).
      yield* Effect.provide(
        Effect.andThen(WebhookStore.migrate, WebhookStore.insert({ id: "orphan", taskId: "no-such-task", url: `${hook.base}/orphan`, createdAt: 1 })),
        webhooks
      )
      yield* Effect.scoped(Effect.gen(function*() {
        const base = yield* Effect.map(
          Layer.build(testServer({
            dataDir,
            webhooks: { ...Webhooks.defaults, secret: Option.some(Redacted.make("whsec-delivery")), allowHosts: ["127.0.0.1"], maxAttempts: 1 }
          })),
          (context) => HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
        )
        // A webhook of a task that runs; it is delivered, while the orphan never is.
        yield* deliverTo(base, `${hook.base}/live`)
      }))
      const [orphan] = yield* Effect.provide(WebhookStore.ofTask("no-such-task"), webhooks)
      assert.deepStrictEqual([orphan.state, orphan.attempts], ["failed", []])
      assert.deepStrictEqual(hook.paths, ["/live"])
    }).pipe(Effect.scoped), serviceTestMillis)

  it.prop(
    "the wait after attempt n is retryBase × 2^(n-1), at most retryMax",
    { base: millis, max: millis, attempt: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 40 })) },
    ({ attempt, base, max }) => {
      const settings = { ...Webhooks.defaults, retryBase: Duration.millis(base), retryMax: Duration.millis(max) }
      assert.strictEqual(Webhooks.backoff(settings, attempt), Math.min(base * 2 ** (attempt - 1), max))
    }
  )

  it("the defaults: ten attempts, 1 s doubling to 10 min, 10 s to answer, no secret (no webhooks)", () => {
    assert.deepStrictEqual(
      [1, 2, 3, 10, 11].map((attempt) => Webhooks.backoff(Webhooks.defaults, attempt)),
      [1000, 2000, 4000, 512_000, 600_000]
    )
    assert.strictEqual(Webhooks.defaults.maxAttempts, 10)
    assert.strictEqual(Duration.toMillis(Webhooks.defaults.requestTimeout), 10_000)
    assert.isTrue(Option.isNone(Webhooks.defaults.secret))
  })

  it.live("a 299 acknowledges the delivery; a 300 or a redirect does not, and the redirect is not followed", () =>
    Effect.gen(function*() {
      const hook = yield* receiverAnswering((request, response) => {
        if (request.url === "/ok") return response.writeHead(299).end()
        if (request.url === "/multiple") return response.writeHead(300).end()
        response.writeHead(302, { location: "/ok" }).end()
      })
      const base = yield* serviceWith({})
      const ok = yield* deliverTo(base, `${hook.base}/ok`)
      assert.deepStrictEqual([ok.state, ok.attempts.map((a: any) => [a.status, a.error])], ["delivered", [[299, null]]])
      assert.isNumber(ok.deliveredAt)
      assert.isNull(ok.nextAttemptAt)
      const multiple = yield* deliverTo(base, `${hook.base}/multiple`)
      assert.deepStrictEqual([multiple.state, multiple.attempts.map((a: any) => [a.status, a.error])], ["failed", [[300, "HTTP 300"]]])
      const moved = yield* deliverTo(base, `${hook.base}/moved`)
      assert.deepStrictEqual([moved.state, moved.attempts.map((a: any) => [a.status, a.error])], ["failed", [[302, "HTTP 302"]]])
      assert.isNull(moved.deliveredAt)
      assert.deepStrictEqual(hook.paths, ["/ok", "/multiple", "/moved"])
      // Each POST says what it carries and who sends it.
      assert.deepStrictEqual(hook.headers.map((got) => [got["content-type"], got["user-agent"]]), [
        ["application/json", "chainjobs-webhooks"],
        ["application/json", "chainjobs-webhooks"],
        ["application/json", "chainjobs-webhooks"]
      ])
    }).pipe(Effect.scoped), serviceTestMillis)

  it.live("a receiver nobody listens for is an attempt with no status and the connection's error", () =>
    Effect.gen(function*() {
      const closed = yield* receiverAnswering(() => {})
      const url = `${closed.base}/gone`
      yield* Effect.promise(() => new Promise<void>((resolve) => closed.server.close(() => resolve())))
      const base = yield* serviceWith({})
      const delivery = yield* deliverTo(base, url)
      assert.strictEqual(delivery.state, "failed")
      const [attempt] = delivery.attempts
      assert.isNull(attempt.status)
      assert.strictEqual(attempt.error, "fetch failed")
    }).pipe(Effect.scoped), serviceTestMillis)

  it.live("a receiver that does not answer within requestTimeout is an attempt with no status, due again after the backoff", () =>
    Effect.gen(function*() {
      // Never answers: the connection stays open until the receiver closes.
      const hook = yield* receiverAnswering(() => {})
      const base = yield* serviceWith({ requestTimeout: Duration.millis(100), maxAttempts: 2, retryBase: Duration.millis(50) })
      const delivery = yield* deliverTo(base, `${hook.base}/slow`)
      assert.strictEqual(delivery.state, "failed")
      assert.deepStrictEqual(delivery.attempts.map((a: any) => [a.attempt, a.status, a.error]), [
        [1, null, "no answer within 100ms"],
        [2, null, "no answer within 100ms"]
      ])
      const [first, second] = delivery.attempts
      assert.isAtLeast(first.durationMillis, 100)
      // The second attempt starts no sooner than the backoff after the first one ended.
      assert.isAtLeast(second.at, first.at + first.durationMillis + 50)
      assert.isNull(delivery.deliveredAt)
    }).pipe(Effect.scoped), serviceTestMillis)

  it.live("a receiver's answer body is never read: an endless 200 is delivered and its connection closed, a 204 with no body is delivered, a 404 is not", () =>
    Effect.gen(function*() {
      let closedEarly: () => void = () => {}
      const cut = new Promise<void>((resolve) => (closedEarly = resolve))
      const hook = yield* receiverAnswering((request, response) => {
        if (request.url === "/empty") return response.writeHead(204).end()
        if (request.url === "/missing") return response.writeHead(404).end("no such hook")
        // An answer that never ends: 64 KiB at a time while the connection takes them, until the service hangs up.
        response.writeHead(200, { "content-type": "application/octet-stream" })
        const chunk = Buffer.alloc(64 * 1024, 120)
        const pump = () => {
          while (!response.destroyed && response.write(chunk));
        }
        response.on("drain", pump)
        response.on("close", () => closedEarly())
        pump()
      })
      const base = yield* serviceWith({})
      const endless = yield* deliverTo(base, `${hook.base}/endless`)
      assert.deepStrictEqual([endless.state, endless.attempts.map((a: any) => [a.status, a.error])], ["delivered", [[200, null]]])
      // The service cancelled the body it does not read, so the receiver's endless answer was cut off.
      yield* Effect.promise(() => cut)
      const empty = yield* deliverTo(base, `${hook.base}/empty`)
      assert.deepStrictEqual([empty.state, empty.attempts.map((a: any) => [a.status, a.error])], ["delivered", [[204, null]]])
      const missing = yield* deliverTo(base, `${hook.base}/missing`)
      assert.deepStrictEqual([missing.state, missing.attempts.map((a: any) => [a.status, a.error])], ["failed", [[404, "HTTP 404"]]])
    }).pipe(Effect.scoped), serviceTestMillis)
})
