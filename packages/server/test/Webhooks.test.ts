import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Duration, Effect, Exit, Layer, Option, Redacted } from "effect"
import { HttpServer } from "effect/http"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as ServerConfig from "../src/ServerConfig.ts"
import * as WebhookSignature from "../src/WebhookSignature.ts"
import * as Webhooks from "../src/Webhooks.ts"
import { chainjobs } from "./cli.ts"
import { testServer } from "./http.ts"

const secret = "whsec-test-secret"
const pgUrl = process.env.CHAINJOBS_TEST_PG_URL

/** One POST the receiver got. */
interface Received {
  readonly headers: IncomingHttpHeaders
  readonly body: string
  readonly answered: number
}

/**
 * A real HTTP receiver on 127.0.0.1: answers each POST with the next status
 * of `answers` (the last one repeats), records what it got, and lets a test
 * wait for the n-th request.
 */
const receiver = (answers: Array<number>) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const received: Array<Received> = []
      const waiters: Array<{ count: number; resolve: () => void }> = []
      const server = createServer((request, response) => {
        let body = ""
        request.setEncoding("utf8")
        request.on("data", (chunk) => (body += chunk))
        request.on("end", () => {
          const answered = answers.length > 1 ? answers.shift()! : answers[0]
          received.push({ headers: request.headers, body, answered })
          response.writeHead(answered).end()
          for (const waiter of waiters.filter((waiter) => received.length >= waiter.count)) waiter.resolve()
        })
      })
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
      return {
        url,
        received,
        answers,
        server,
        /** Resolves once `count` requests have arrived. */
        until: (count: number) =>
          Effect.promise(() =>
            received.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve }))
          )
      }
    }),
    ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
  )

const webhookSettings = (overrides: Partial<Webhooks.WebhookSettings> = {}): Webhooks.WebhookSettings => ({
  ...Webhooks.defaults,
  secret: Option.some(Redacted.make(secret)),
  allowHosts: ["127.0.0.1"],
  retryBase: Duration.millis(20),
  ...overrides
})

/** Builds the service in the current scope; its base URL. */
const startServer = (settings: Partial<ServerConfig.ServerSettings>) =>
  Effect.map(Layer.build(testServer(settings)), (context) =>
    HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address))

const call = (base: string, method: string, path: string, body?: unknown) =>
  Effect.promise(async () => {
    const response = await fetch(base + path, {
      method,
      ...(body === undefined ? {} : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
    })
    const text = await response.text()
    return { status: response.status, body: text === "" ? undefined : JSON.parse(text) }
  })

/** Reads a task's deliveries until `done` holds of them. */
const deliveriesUntil = (base: string, id: string, done: (deliveries: Array<any>) => boolean) =>
  Effect.gen(function*() {
    for (;;) {
      const reply = yield* call(base, "GET", `/api/tasks/${id}/webhooks`)
      if (done(reply.body)) return reply.body as Array<any>
      yield* Effect.sleep("20 millis")
    }
  })

const quickScan = { fromBlock: 1, toBlock: 2, delayMillis: 0 }

describe("webhooks", () => {
  it.live("a finished task's record is POSTed, signed over timestamp and body, and the delivery shows on the task", () =>
    Effect.gen(function*() {
      const hook = yield* receiver([200])
      const base = yield* startServer({ webhooks: webhookSettings() })
      const submitted = yield* call(base, "POST", `/api/tasks/demo-scan?webhook=${encodeURIComponent(hook.url)}`, quickScan)
      assert.strictEqual(submitted.status, 202)
      const id = submitted.body.taskId
      yield* hook.until(1)
      const [delivery] = hook.received
      const signature = String(delivery.headers[WebhookSignature.signatureHeader])
      // The receiver's check: the HMAC of "<t>.<raw body>" under the shared secret, and a recent t.
      const timestamp = Number(/^t=(\d+),v1=[0-9a-f]{64}$/.exec(signature)?.[1])
      assert.isAtMost(Math.abs(Date.now() / 1000 - timestamp), 60)
      assert.strictEqual(signature, WebhookSignature.sign(secret, timestamp, delivery.body))
      assert.notStrictEqual(signature, WebhookSignature.sign("another secret", timestamp, delivery.body))
      const record = JSON.parse(delivery.body)
      const stored = yield* call(base, "GET", `/api/tasks/${id}`)
      assert.deepStrictEqual(record, stored.body)
      assert.strictEqual(record.status, "completed")
      assert.deepStrictEqual(record.result, { blocks: 2, transfers: 3 })
      assert.strictEqual(delivery.headers[WebhookSignature.taskHeader], id)
      assert.strictEqual(delivery.headers[WebhookSignature.attemptHeader], "1")
      const [shown] = yield* deliveriesUntil(base, id, (deliveries) => deliveries[0]?.state === "delivered")
      assert.strictEqual(shown.id, delivery.headers[WebhookSignature.deliveryHeader])
      assert.strictEqual(shown.url, hook.url)
      assert.deepStrictEqual(shown.attempts.map((attempt: any) => [attempt.attempt, attempt.status, attempt.error]), [[1, 200, null]])
    }).pipe(Effect.scoped), 30_000)

  it.live("a receiver answering 500 gets the same delivery again, with backoff, until it answers 2xx", () =>
    Effect.gen(function*() {
      const hook = yield* receiver([500, 503, 204])
      const base = yield* startServer({ webhooks: webhookSettings() })
      const submitted = yield* call(base, "POST", `/api/tasks/demo-fail?webhook=${encodeURIComponent(hook.url)}`, { steps: 1, delayMillis: 0 })
      const id = submitted.body.taskId
      const [shown] = yield* deliveriesUntil(base, id, (deliveries) => deliveries[0]?.state === "delivered")
      assert.deepStrictEqual(shown.attempts.map((attempt: any) => [attempt.attempt, attempt.status]), [[1, 500], [2, 503], [3, 204]])
      assert.deepStrictEqual(shown.attempts.map((attempt: any) => attempt.error), ["HTTP 500", "HTTP 503", null])
      assert.strictEqual(hook.received.length, 3)
      assert.deepStrictEqual(hook.received.map((got) => got.headers[WebhookSignature.attemptHeader]), ["1", "2", "3"])
      assert.strictEqual(new Set(hook.received.map((got) => got.headers[WebhookSignature.deliveryHeader])).size, 1)
      assert.strictEqual(JSON.parse(hook.received[2].body).status, "failed")
      // Each wait is at least the backoff: 20 ms after the first failure, 40 after the second.
      const [first, second, third] = shown.attempts.map((attempt: any) => attempt.at)
      assert.isAtLeast(second - first, 20)
      assert.isAtLeast(third - second, 40)
    }).pipe(Effect.scoped), 30_000)

  it.live("after the last attempt the delivery fails for good", () =>
    Effect.gen(function*() {
      const hook = yield* receiver([500])
      const base = yield* startServer({ webhooks: webhookSettings({ maxAttempts: 2 }) })
      const submitted = yield* call(base, "POST", `/api/tasks/demo-scan?webhook=${encodeURIComponent(hook.url)}`, quickScan)
      const [shown] = yield* deliveriesUntil(base, submitted.body.taskId, (deliveries) => deliveries[0]?.state === "failed")
      assert.deepStrictEqual(shown.attempts.map((attempt: any) => attempt.status), [500, 500])
      assert.isNull(shown.nextAttemptAt)
    }).pipe(Effect.scoped), 30_000)

  const restart = (store: "SQLite" | "PostgreSQL") =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "chainjobs-webhooks-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const hook = yield* receiver([500])
      const settings = {
        dataDir,
        webhooks: webhookSettings({ retryBase: Duration.millis(200) }),
        ...(store === "PostgreSQL" ? { databaseUrl: Option.some(Redacted.make(pgUrl ?? "")) } : {})
      }
      const url = encodeURIComponent(hook.url)
      const { refused, stopped } = yield* Effect.scoped(Effect.gen(function*() {
        const base = yield* startServer(settings)
        const refused = (yield* call(base, "POST", `/api/tasks/demo-scan?webhook=${url}`, quickScan)).body.taskId
        // The first attempt answered 500 and recorded (an attempt the shutdown cuts short is simply made again).
        yield* deliveriesUntil(base, refused, (deliveries) => deliveries[0]?.attempts.length >= 1)
        // A task still running when the service stops: the shutdown interrupts it.
        const stopped = (yield* call(base, "POST", `/api/tasks/demo-scan?webhook=${url}`, { ...quickScan, delayMillis: 60_000 }))
          .body.taskId
        return { refused, stopped }
      }))
      const before = hook.received.length
      hook.answers.splice(0, hook.answers.length, 200)
      const base = yield* startServer(settings)
      const acknowledged = (deliveries: Array<any>) => deliveries[0]?.state === "delivered"
      const [first] = yield* deliveriesUntil(base, refused, acknowledged)
      const [second] = yield* deliveriesUntil(base, stopped, acknowledged)
      assert.strictEqual(first.attempts.at(-1).status, 200)
      assert.isAtLeast(first.attempts.length, 2)
      assert.deepStrictEqual(second.attempts.map((attempt: any) => attempt.status), [200])
      const after = hook.received.slice(before)
      const records = after.map((got) => JSON.parse(got.body))
      assert.deepStrictEqual(records.filter((record) => record.id === stopped).map((record) => record.status), ["interrupted"])
      assert.deepStrictEqual(records.filter((record) => record.id === refused).map((record) => record.status), ["completed"])
      // Once acknowledged, a delivery is not sent again: one 2xx answer per task.
      for (const id of [refused, stopped]) {
        const acknowledgedOnce = hook.received.filter((got) => got.headers[WebhookSignature.taskHeader] === id && got.answered === 200)
        assert.strictEqual(acknowledgedOnce.length, 1)
      }
    }).pipe(Effect.scoped)

  it.live("a restart resumes deliveries (SQLite): a record not yet acknowledged, and a task the shutdown stopped, are delivered after it", () =>
    restart("SQLite"), { timeout: 30_000 })
  it.live.skipIf(pgUrl === undefined)("a restart resumes deliveries (PostgreSQL)", () => restart("PostgreSQL"), { timeout: 30_000 })

  it.live("the CLI (over RPC) submits with --webhook: the record is delivered; a URL the service refuses fails the command, nothing submitted", () =>
    Effect.gen(function*() {
      const hook = yield* receiver([200])
      const context = yield* Layer.build(testServer({ webhooks: webhookSettings() }))
      const base = HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
      const cli = (...args: Array<string>) => Effect.provideContext(chainjobs(...args), context)
      const submitted = yield* cli("submit", "demo-scan", "--payload", JSON.stringify(quickScan), "--webhook", hook.url)
      assert.isTrue(Exit.isSuccess(submitted.exit))
      const id = submitted.lines[0]
      const [shown] = yield* deliveriesUntil(base, id, (deliveries) => deliveries[0]?.state === "delivered")
      assert.strictEqual(shown.url, hook.url)
      yield* hook.until(1)
      assert.strictEqual(JSON.parse(hook.received[0].body).id, id)
      const refused = yield* cli("submit", "demo-scan", "--payload", JSON.stringify(quickScan), "--webhook", "http://10.0.0.1/hook")
      assert.isTrue(Exit.isFailure(refused.exit))
      if (Exit.isFailure(refused.exit)) {
        const printed = Cause.pretty(refused.exit.cause)
        assert.include(printed, "WebhookRefused")
        assert.include(printed, "loopback, private or link-local")
      }
      assert.deepStrictEqual((yield* call(base, "GET", "/api/tasks")).body.items.map((item: any) => item.id), [id])
    }).pipe(Effect.scoped), 30_000)

  const badUrls: ReadonlyArray<readonly [string, string]> = [
    ["not a url", "invalid-url"],
    ["ftp://example.com/hook", "scheme"],
    ["javascript:alert(1)", "scheme"],
    ["http://user:pw@example.com/hook", "credentials"],
    ["http://10.1.2.3/hook", "private-host"],
    ["http://localhost:9/hook", "private-host"],
    ["http://[::1]/hook", "private-host"],
    ["http://[::ffff:192.168.0.1]/hook", "private-host"],
    ["http://169.254.169.254/latest", "private-host"],
    [`https://example.com/${"x".repeat(2100)}`, "too-long"]
  ]

  it.live("bad webhook URLs are refused with a typed 400 and nothing is submitted", () =>
    Effect.gen(function*() {
      const base = yield* startServer({ webhooks: webhookSettings({ allowHosts: [] }) })
      for (const [url, reason] of badUrls) {
        const reply = yield* call(base, "POST", `/api/tasks/demo-scan?webhook=${encodeURIComponent(url)}`, quickScan)
        assert.strictEqual(reply.status, 400, url)
        assert.strictEqual(reply.body._tag, "WebhookRefused")
        assert.strictEqual(reply.body.reason, reason, url)
      }
      const listed = yield* call(base, "GET", "/api/tasks")
      assert.deepStrictEqual(listed.body.items, [])
    }).pipe(Effect.scoped), 30_000)

  it.live("without a secret the service takes no webhooks", () =>
    Effect.gen(function*() {
      const base = yield* startServer({})
      const reply = yield* call(base, "POST", `/api/tasks/demo-scan?webhook=${encodeURIComponent("https://example.com/hook")}`, quickScan)
      assert.strictEqual(reply.status, 400)
      assert.strictEqual(reply.body.reason, "not-configured")
      assert.deepStrictEqual((yield* call(base, "GET", "/api/tasks")).body.items, [])
    }).pipe(Effect.scoped), 30_000)
})
