/**
 * Several dispatchers on one database (runners on one PostgreSQL, or two
 * services on one SQLite file) read the same due webhooks: each must be sent
 * by one of them only. Two webhook layers, each on its own connection to a
 * real database, and a real receiver that holds its answers: the first layer
 * is sending `w1` (held) when the second starts and reads what is due, `w2`
 * made due meanwhile. Every delivery id must reach the receiver once, with
 * one attempt recorded.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Option, Redacted } from "effect"
import type { SqlClient } from "effect/sql"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Tasks, TaskStore } from "@chainjobs/tasks"
import { NodeSqliteClient, SqlTaskStore } from "@chainjobs/store-sql"
import * as WebhookSignature from "../src/WebhookSignature.ts"
import * as WebhookStore from "../src/WebhookStore.ts"
import * as Webhooks from "../src/Webhooks.ts"
import { freshDatabase } from "./freshDatabase.ts"

const pgUrl = process.env.CHAINJOBS_TEST_PG_URL

/** A receiver on 127.0.0.1 that records each POST's delivery id and answers 200 only once released. */
const heldReceiver = Effect.acquireRelease(
  Effect.promise(async () => {
    const received: Array<string> = []
    const waiters: Array<{ count: number; resolve: () => void }> = []
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    const server = createServer((request, response) => {
      request.resume()
      request.on("end", () => {
        received.push(String(request.headers[WebhookSignature.deliveryHeader]))
        for (const waiter of waiters.filter((waiter) => received.length >= waiter.count)) waiter.resolve()
        void released.then(() => response.writeHead(200).end())
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    return {
      url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`),
      received,
      server,
      release,
      /** Resolves once `count` requests have arrived. */
      until: (count: number) =>
        Effect.promise(() =>
          received.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve }))
        )
    }
  }),
  ({ release, server }) =>
    Effect.promise(() => {
      release()
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    })
)

const settings: Webhooks.WebhookSettings = {
  ...Webhooks.defaults,
  secret: Option.some(Redacted.make("whsec-claim")),
  allowHosts: ["127.0.0.1"]
}

/** Both dispatchers over their own `SqlClient` layer, made by `connect`, on one database. */
const twoDispatchers = (connect: () => Layer.Layer<SqlClient.SqlClient, unknown>) =>
  Effect.gen(function*() {
    const hook = yield* heldReceiver
    const tasks = yield* Layer.build(Tasks.layer({ shutdownGracePeriod: 0 }).pipe(Layer.provide(TaskStore.layerMemory)))
    const first = yield* Layer.build(connect()) as Effect.Effect<Context.Context<SqlClient.SqlClient>, never, any>
    const second = yield* Layer.build(connect()) as Effect.Effect<Context.Context<SqlClient.SqlClient>, never, any>
    const onFirst = <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) => Effect.provideContext(effect, first)
    const dispatcher = (sql: Context.Context<SqlClient.SqlClient>) =>
      Effect.map(
        Layer.build(Webhooks.layer(settings).pipe(Layer.provide(Layer.succeedContext(Context.merge(tasks, sql))))),
        Context.get(Webhooks.Webhooks)
      )
    const due = (id: string) =>
      onFirst(Effect.andThen(
        WebhookStore.insert({ id, taskId: `task-${id}`, url: hook.url.href, createdAt: Date.now() }),
        WebhookStore.markDue(`task-${id}`, JSON.stringify({ id: `task-${id}` }), Date.now())
      ))
    yield* onFirst(WebhookStore.migrate)
    yield* due("w1")
    const webhooks = yield* dispatcher(first)
    // The first dispatcher is sending w1; its answer is held.
    yield* hook.until(1)
    yield* due("w2")
    yield* dispatcher(second)
    // The second dispatcher read what was due; it sent w2 (the first is still held on w1).
    yield* hook.until(2)
    hook.release()
    const settled = (id: string) =>
      Effect.gen(function*() {
        for (;;) {
          const [delivery] = yield* webhooks.deliveries(`task-${id}`)
          if (delivery?.state === "delivered") return delivery
          yield* Effect.sleep("20 millis")
        }
      }).pipe(Effect.timeoutOrElse({ duration: Duration.seconds(20), orElse: () => Effect.die(`${id} was never delivered`) }))
    const [w1, w2] = yield* Effect.all([settled("w1"), settled("w2")])
    assert.deepStrictEqual([...hook.received].sort(), [w1.id, w2.id])
    assert.deepStrictEqual([w1.attempts.length, w2.attempts.length], [1, 1])
  }).pipe(Effect.scoped)

describe("webhooks sent by several dispatchers on one database", () => {
  it.live("each due webhook is sent by one dispatcher (SQLite file)", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "chainjobs-webhooks-claim-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      yield* twoDispatchers(() => NodeSqliteClient.layer({ filename: join(dir, "webhooks.db") }))
    }).pipe(Effect.scoped), 30_000)

  it.live.skipIf(pgUrl === undefined)("each due webhook is sent by one dispatcher (PostgreSQL)", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase(pgUrl ?? "", "chainjobs_webhooks_claim")
      yield* twoDispatchers(() => SqlTaskStore.layerPgClient({ url: Redacted.make(url), maxConnections: 2 }))
    }).pipe(Effect.scoped), 30_000)
})
