import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Context, Duration, Effect, Exit, Layer, Option, Redacted, Schema, Scope } from "effect"
import { HttpServer } from "effect/http"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { DemoTasks, Server, ServerConfig, WebhookSignature } from "@chainjobs/server"
import { TasksConfig } from "@chainjobs/tasks"
import { ChainjobsClient, ChainjobsError, type KindsOf, type TaskRecord, verifyWebhook, WaitTimeout } from "../src/index.ts"

type Kinds = KindsOf<[typeof DemoTasks.DemoScan, typeof DemoTasks.DemoFail]>

const secret = "client-test-secret"

/** The whole service on a free port (memory store, no chain), with auth on and webhooks to loopback allowed. */
const startService = async () => {
  const scope = await Effect.runPromise(Scope.make())
  const layer = Server.layer.pipe(Layer.provide(ServerConfig.layerTest({
    port: 0,
    dataDir: ":memory:",
    devChain: false,
    authTokens: { alice: Redacted.make("alice-token"), bob: Redacted.make("bob-token") },
    tasks: TasksConfig.make({ shutdownGracePeriod: Duration.seconds(1) }),
    webhooks: { ...ServerConfig.defaults.webhooks, secret: Option.some(Redacted.make(secret)), allowHosts: ["127.0.0.1"] }
  })))
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  return {
    baseUrl: HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address),
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

let service: Awaited<ReturnType<typeof startService>>
let client: ChainjobsClient<Kinds>

beforeAll(async () => {
  service = await startService()
  client = new ChainjobsClient<Kinds>({ baseUrl: service.baseUrl, token: "alice-token" })
}, 30_000)
afterAll(() => service.close())

/** Catches what a promise rejects with. */
const rejection = (promise: Promise<unknown>): Promise<any> => promise.then(() => expect.fail("expected a rejection"), (error) => error)

describe("ChainjobsClient", () => {
  it("submits, follows the events with their progress, and reads the typed result", async () => {
    const submitted = await client.submit("demo-scan", { fromBlock: 1, toBlock: 5, delayMillis: 20 })
    expect(submitted.status).toBe("pending")
    expect(submitted.statusUrl).toBe(`/api/tasks/${submitted.taskId}`)
    const seen: Array<TaskRecord> = []
    for await (const record of client.events(submitted.taskId)) seen.push(record)
    expect(seen.at(-1)?.status).toBe("completed")
    const progress = seen.map((record) => record.progress)
    expect(progress).toEqual([...progress].sort((a, b) => a - b))
    expect(seen.some((record) => record.progress > 0 && record.progress < 100)).toBe(true)
    const result = await client.result<Kinds["demo-scan"]["result"]>(submitted.taskId)
    expect(result.status).toBe("completed")
    if (result.status === "completed") expect(result.result).toEqual({ blocks: 5, transfers: 6 })
    const status = await client.status(submitted.taskId)
    expect(status.status).toBe("completed")
    expect(status.createdAtIso).toBe(new Date(status.createdAt).toISOString())
  })

  it("waits by polling, reporting each record, and gives up with WaitTimeout after its timeout", async () => {
    const quick = await client.submit("demo-scan", { fromBlock: 1, toBlock: 3, delayMillis: 10 })
    const polled: Array<string> = []
    const done = await client.wait(quick.taskId, { intervalMillis: 10, onProgress: (record) => polled.push(record.status) })
    expect(done.status).toBe("completed")
    expect(polled.at(-1)).toBe("completed")
    const slow = await client.submit("demo-scan", { fromBlock: 1, toBlock: 1000, delayMillis: 1000 })
    const timedOut = await rejection(client.wait(slow.taskId, { timeoutMillis: 100, intervalMillis: 20 }))
    expect(timedOut).toBeInstanceOf(WaitTimeout)
    expect(timedOut.record.status).not.toBe("completed")
    // A result asked for while it runs says so (202), with its progress.
    expect((await client.result(slow.taskId)).status).toMatch(/pending|running/)
    const stopped = await client.interrupt(slow.taskId)
    expect(stopped.status).toBe("interrupted")
    const failed = await rejection(client.result(slow.taskId))
    expect(failed).toBeInstanceOf(ChainjobsError)
    expect([failed.status, failed.tag, failed.body.status]).toEqual([409, "TaskFailed", "interrupted"])
  })

  it("lists the caller's tasks by kind and deletes one", async () => {
    const failing = await client.submit("demo-fail", { steps: 1, delayMillis: 0 })
    const record = await client.wait(failing.taskId, { intervalMillis: 10 })
    expect([record.status, record.reason]).toEqual(["failed", "error"])
    const listed = await client.list({ kind: "demo-fail" })
    expect(listed.items.map((item) => item.id)).toContain(failing.taskId)
    expect(listed.items.every((item) => item.kind === "demo-fail")).toBe(true)
    // Another principal sees none of alice's tasks.
    const bob = new ChainjobsClient<Kinds>({ baseUrl: service.baseUrl, token: "bob-token" })
    expect((await bob.list()).items).toEqual([])
    await client.delete(failing.taskId)
    const gone = await rejection(client.status(failing.taskId))
    expect([gone.status, gone.tag]).toEqual([404, "TaskNotFound"])
  })

  it("throws the service's refusals as ChainjobsError with their tag, and an unreachable service as status 0", async () => {
    const unknown = await rejection(new ChainjobsClient<any>({ baseUrl: service.baseUrl, token: "alice-token" }).submit("no-such-kind", {}))
    expect([unknown.status, unknown.tag]).toEqual([404, "UnknownTaskKind"])
    const invalid = await rejection(client.submit("demo-scan", { fromBlock: -1, toBlock: 1, delayMillis: 0 }))
    expect([invalid.status, invalid.tag]).toEqual([400, "InvalidPayload"])
    const anonymous = await rejection(new ChainjobsClient({ baseUrl: service.baseUrl }).list())
    expect([anonymous.status, anonymous.tag]).toEqual([401, "Unauthenticated"])
    const refused = await rejection(client.submit("demo-scan", { fromBlock: 1, toBlock: 1, delayMillis: 0 }, { webhook: "ftp://example.com" }))
    expect([refused.status, refused.tag, refused.body.reason]).toEqual([400, "WebhookRefused", "scheme"])
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const unreachable = await rejection(new ChainjobsClient({ baseUrl: `http://127.0.0.1:${port}` }).list())
    expect([unreachable.status, unreachable.tag]).toEqual([0, "Unreachable"])
  })

  it("a webhook named on submission arrives signed, verifyWebhook accepts it, and the delivery shows on the task", async () => {
    const received: Array<{ signature: string; body: string }> = []
    const receiver = createServer((request, response) => {
      let body = ""
      request.setEncoding("utf8")
      request.on("data", (chunk) => (body += chunk))
      request.on("end", () => {
        received.push({ signature: String(request.headers["chainjobs-signature"]), body })
        response.writeHead(204).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve))
    try {
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/done`
      const submitted = await client.submit("demo-scan", { fromBlock: 1, toBlock: 2, delayMillis: 0 }, { webhook: url })
      let deliveries = await client.webhooks(submitted.taskId)
      while (deliveries[0]?.state !== "delivered") {
        await new Promise((resolve) => setTimeout(resolve, 20))
        deliveries = await client.webhooks(submitted.taskId)
      }
      expect(deliveries[0].attempts.map((attempt) => attempt.status)).toEqual([204])
      const [{ signature, body }] = received
      expect(await verifyWebhook(secret, signature, body)).toBe(true)
      expect(await verifyWebhook("wrong", signature, body)).toBe(false)
      expect(await verifyWebhook(secret, signature, body.replace("completed", "failed"))).toBe(false)
      expect(await verifyWebhook(secret, signature, body, { nowSeconds: Math.floor(Date.now() / 1000) + 3600 })).toBe(false)
      expect(JSON.parse(body).id).toBe(submitted.taskId)
    } finally {
      await new Promise<void>((resolve) => receiver.close(() => resolve()))
    }
  })

  it.prop("verifyWebhook accepts exactly what the service signs", { body: Schema.String, key: Schema.NonEmptyString, at: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 2 ** 31 })) }, ({ body, key, at }) =>
    Effect.promise(async () => {
      const header = WebhookSignature.sign(key, at, body)
      expect(await verifyWebhook(key, header, body, { nowSeconds: at })).toBe(true)
      expect(await verifyWebhook(key, header, `${body}.`, { nowSeconds: at })).toBe(false)
      expect(await verifyWebhook(`${key}.`, header, body, { nowSeconds: at })).toBe(false)
    }))
})
