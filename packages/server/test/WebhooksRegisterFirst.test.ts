/**
 * A submission's webhook is registered before its task (a kind without a key), under the id the task then gets, so
 * no task ever starts without its webhook: the service from the access rules down to real tables, on a SQLite file
 * and on PostgreSQL, the tasks and the webhooks on one database, and a real receiver counting what it is sent.
 *
 * - The webhook table refusing the write: the submission fails with the store's error and no task is recorded.
 * - A submission failing after its webhook was registered (a payload its kind refuses): the webhook is given up,
 *   nothing is sent for it.
 * - A webhook left waiting for a task that never came (its submitter died before giving it up) is given up by the
 *   dispatcher once it has waited `orphanWaitMillis`; should its task be recorded and finish after all, the webhook
 *   is delivered.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Principal, Task, TaskAccess, TaskInfo, Tasks } from "@chainjobs/tasks"
import { NodeSqliteClient, SqlTaskStore } from "@chainjobs/store-sql"
import * as WebhookSignature from "../src/WebhookSignature.ts"
import * as WebhookStore from "../src/WebhookStore.ts"
import * as Webhooks from "../src/Webhooks.ts"
import { freshDatabase } from "./freshDatabase.ts"

const pgUrl = process.env.CHAINJOBS_TEST_PG_URL

/** A kind without a key whose tasks complete at once. */
const Quick = Task.define("quick", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Void })

/** A receiver on 127.0.0.1 answering 200, recording the task id of each POST. */
const receiver = Effect.acquireRelease(
  Effect.promise(async () => {
    const received: Array<string> = []
    const server = createServer((request, response) => {
      request.resume()
      request.on("end", () => {
        received.push(String(request.headers[WebhookSignature.taskHeader]))
        response.writeHead(200).end()
      })
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, received, server }
  }),
  ({ server }) =>
    Effect.promise(() => {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    })
)

const settings: Webhooks.WebhookSettings = {
  ...Webhooks.defaults,
  secret: Option.some(Redacted.make("whsec-register-first")),
  allowHosts: ["127.0.0.1"]
}

/** The access rules, the supervisor on the SQL store and the webhooks, all on the `SqlClient` of `client`. */
const service = (client: Layer.Layer<SqlClient.SqlClient, unknown>) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      TaskAccess.layer().pipe(
        Layer.provideMerge(Webhooks.layerSubmit),
        Layer.provideMerge(Webhooks.layer(settings)),
        Layer.provideMerge(Task.implement(Quick, () => Effect.void)),
        Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: 0 })),
        Layer.provideMerge(SqlTaskStore.layer()),
        Layer.provideMerge(client)
      )
    ) as Effect.Effect<Context.Context<TaskAccess.TaskAccess | Tasks.Tasks | Webhooks.Webhooks | SqlClient.SqlClient>, never, any>
    const access = Context.get(context, TaskAccess.TaskAccess)
    const submit = (request: TaskAccess.SubmitRequest) =>
      access.submit(request).pipe(Effect.provideService(Principal.CurrentPrincipal, { id: "alice", admin: false }))
    return {
      submit,
      tasks: Context.get(context, Tasks.Tasks),
      webhooks: Context.get(context, Webhooks.Webhooks),
      sql: Context.get(context, SqlClient.SqlClient),
      onDb: <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient>) => Effect.provideContext(effect, context)
    }
  })

/** Waits (looking every 20 ms) until `done` holds; gives up at 20 s only to say what was never seen. */
const eventually = <E>(done: Effect.Effect<boolean, E>, what: string) =>
  Effect.gen(function*() {
    while (!(yield* done)) yield* Effect.sleep("20 millis")
  }).pipe(Effect.timeoutOrElse({ duration: Duration.seconds(20), orElse: () => Effect.die(new Error(`never seen: ${what}`)) }))

/** Every webhook row: its task and state. */
const rows = (sql: SqlClient.SqlClient) =>
  Effect.map(
    sql<{ task_id: string; state: string; attempts: number }>`SELECT task_id, state, attempts FROM ${sql(WebhookStore.webhooksTable)}`,
    (all) => all.map((row) => ({ taskId: row.task_id, state: row.state, attempts: Number(row.attempts) }))
  )

const cases = (client: () => Effect.Effect<Layer.Layer<SqlClient.SqlClient, unknown>, never, any>) => {
  it.live("a webhook table refusing the write fails the submission, and no task is recorded", () =>
    Effect.gen(function*() {
      const hook = yield* receiver
      const { sql, submit, tasks } = yield* service(yield* client())
      yield* sql.unsafe(`ALTER TABLE ${WebhookStore.webhooksTable} RENAME TO parked`)
      const refused = yield* Effect.flip(submit({ kind: "quick", payload: { n: 1 }, webhook: hook.url }))
      assert.deepStrictEqual([refused._tag, (refused as { operation?: string }).operation], ["TaskStoreError", "webhooks insert"])
      assert.deepStrictEqual((yield* tasks.list({})).items, [])
    }).pipe(Effect.scoped), 30_000)

  it.live("a submission refused after its webhook was registered leaves nothing to send", () =>
    Effect.gen(function*() {
      const hook = yield* receiver
      const { sql, submit, tasks, webhooks } = yield* service(yield* client())
      const refused = yield* Effect.flip(submit({ kind: "quick", payload: { n: "one" }, webhook: hook.url }))
      assert.strictEqual(refused._tag, "InvalidPayload")
      const [given] = yield* rows(sql)
      assert.deepStrictEqual([given?.state, given?.attempts], ["failed", 0])
      // A good submission after it is delivered; by then the dispatcher has had its round.
      const { id } = yield* submit({ kind: "quick", payload: { n: 2 }, webhook: hook.url })
      yield* eventually(
        Effect.map(webhooks.deliveries(id), (deliveries) => deliveries.some((delivery) => delivery.state === "delivered")),
        "the good submission's webhook delivered"
      )
      assert.deepStrictEqual(hook.received, [id])
      assert.deepStrictEqual((yield* tasks.list({})).items.map((info) => info.id), [id])
    }).pipe(Effect.scoped), 30_000)

  it.live("a webhook waiting too long for a task that never came is given up, and delivered if the task comes after all", () =>
    Effect.gen(function*() {
      const hook = yield* receiver
      const { onDb, sql, submit, tasks, webhooks } = yield* service(yield* client())
      // As a submitter that died between registering the webhook and recording its task leaves it: registered now,
      // it has waited long enough in a moment.
      const at = Date.now() - Webhooks.orphanWaitMillis + 200
      const late = TaskInfo.makeId(at)
      yield* onDb(WebhookStore.insert({ id: "orphan", taskId: "never-recorded", url: hook.url, createdAt: at }))
      yield* onDb(WebhookStore.insert({ id: "late", taskId: late, url: hook.url, createdAt: at }))
      // A finish wakes the dispatcher, whose round looks at the webhooks that have waited long enough: tasks with
      // webhooks are submitted until the two are given up.
      const submitted: Array<string> = []
      yield* eventually(
        Effect.gen(function*() {
          submitted.push((yield* submit({ kind: "quick", payload: { n: 1 }, webhook: hook.url })).id)
          yield* Effect.sleep("100 millis")
          const all = yield* rows(sql)
          return all.filter((row) => row.taskId === late || row.taskId === "never-recorded").every((row) => row.state === "failed")
        }),
        "the webhooks of tasks that never came given up"
      )
      yield* tasks.submit(Quick, { n: 2 }, { id: late })
      yield* eventually(
        Effect.map(webhooks.deliveries(late), (deliveries) => deliveries[0]?.state === "delivered"),
        "the late task's webhook delivered"
      )
      yield* eventually(Effect.sync(() => hook.received.length === submitted.length + 1), "every submitted task's webhook sent")
      assert.deepStrictEqual([...hook.received].sort(), [...submitted, late].sort())
    }).pipe(Effect.scoped), 30_000)
}

describe("a webhook registered before its task (SQLite file)", () => {
  cases(() =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "chainjobs-register-first-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      return NodeSqliteClient.layer({ filename: join(dir, "service.db") })
    })
  )
})

describe.skipIf(pgUrl === undefined)("a webhook registered before its task (PostgreSQL)", () => {
  cases(() =>
    Effect.map(
      freshDatabase(pgUrl ?? "", "chainjobs_register_first"),
      (url) => SqlTaskStore.layerPgClient({ url: Redacted.make(url), maxConnections: 4 })
    )
  )
})
