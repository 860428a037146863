import { assert, describe, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Layer, Option, Redacted } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { statementsOf } from "@chainjobs/store-sql/test/statementTexts"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { type TaskInfo, TaskStore } from "@chainjobs/tasks"
import * as Server from "../src/Server.ts"
import * as ServerConfig from "../src/ServerConfig.ts"
import { request, testServer } from "./http.ts"

const pgUrl = process.env.CHAINJOBS_TEST_PG_URL
if (pgUrl === undefined) {
  console.warn("Store.test.ts: skipping the PostgreSQL case: CHAINJOBS_TEST_PG_URL is not set (.ci/run sets it)")
}

/** Submits a task, waits for it, and reads it back by id. */
const roundTrip = Effect.gen(function*() {
  const done = yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: { fromBlock: 1, toBlock: 3, delayMillis: 0 } })
  assert.strictEqual(done.body.status, "completed")
  const read = yield* request("GET", `/api/tasks/${done.body.id}`)
  assert.deepStrictEqual(read.body, done.body)
  return done.body.id as string
})

/** Reads a record straight from a store, bypassing the server. */
const storedStatus = (id: string, store: Layer.Layer<TaskStore.TaskStore, unknown>) =>
  TaskStore.TaskStore.use((tasks) => tasks.get(id)).pipe(
    Effect.map(Option.map((info: TaskInfo.TaskInfo) => info.status)),
    Effect.provide(store),
    Effect.orDie
  )

const dataDir = join(mkdtempSync(join(tmpdir(), "chainjobs-store-")), "nested", "data")
/** The server on a fresh data directory, removed when the layer is released. */
const sqliteServer = Layer.provideMerge(
  testServer({ dataDir }),
  Layer.effectDiscard(Effect.addFinalizer(() => Effect.sync(() => rmSync(join(dataDir, "..", ".."), { recursive: true, force: true }))))
)

describe("task store", () => {
  layer(sqliteServer, { excludeTestServices: true })("SQLite under dataDir", (it) => {
    it.effect("tasks are kept in the SQLite file, its directory created as needed", () =>
      Effect.gen(function*() {
        const id = yield* roundTrip
        const status = yield* storedStatus(id, SqlTaskStore.layerSqlite({ filename: join(dataDir, "chainjobs.db") }))
        assert.deepStrictEqual(status, Option.some("completed"))
      }))

    it.effect("/metrics tells the heap of the SQLite worker thread, a second V8 isolate", () =>
      Effect.gen(function*() {
        const text = (yield* request("GET", "/metrics")).text as string
        const value = (kind: string) =>
          Number(new RegExp(`^chainjobs_sqlite_worker_heap_bytes\\{kind="${kind}"\\} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN)
        assert.isAbove(value("used"), 0)
        assert.isAtLeast(value("total"), value("used"))
        assert.isAbove(value("physical"), 0)
      }))
  })

  describe.skipIf(pgUrl === undefined)("PostgreSQL", () => {
    layer(testServer({ databaseUrl: Option.some(Redacted.make(pgUrl ?? "")) }), { excludeTestServices: true })("at databaseUrl", (it) => {
      it.effect("tasks are kept in PostgreSQL when a database URL is configured", () =>
        Effect.gen(function*() {
          const id = yield* roundTrip
          const status = yield* storedStatus(id, SqlTaskStore.layerPg({ url: Redacted.make(pgUrl ?? ""), maxConnections: 1 }))
          assert.deepStrictEqual(status, Option.some("completed"))
        }))
    })

    /**
     * Whether the store of the settings read from `env` and `flags` (as `serve` reads them) inserts a fresh record
     * checked (`ON CONFLICT DO NOTHING`): `adaptive` starts plain.
     */
    const insertsChecked = (env: Record<string, string>, flags: Record<string, string> = {}) =>
      Effect.gen(function*() {
        const settings = yield* ServerConfig.ServerConfig.pipe(
          Effect.provide(ServerConfig.layerWith(flags)),
          Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: { CHAINJOBS_DATABASE_URL: pgUrl ?? "", ...env } }))
        )
        const statements = yield* statementsOf(
          TaskStore.TaskStore.use((store) => store.insert(record())).pipe(Effect.provide(Server.layerStore(settings), { local: true }))
        )
        return statements.filter((text) => text.startsWith("WITH")).map((text) => text.includes("DO NOTHING"))
      })

    it.effect("CHAINJOBS_PG_INSERTS and --pg-inserts reach the PostgreSQL store", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* insertsChecked({}), [false])
        assert.deepStrictEqual(yield* insertsChecked({ CHAINJOBS_PG_INSERTS: "checked" }), [true])
        assert.deepStrictEqual(yield* insertsChecked({ CHAINJOBS_PG_INSERTS: "plain" }, { CHAINJOBS_PG_INSERTS: "checked" }), [true])
      }))
  })
})
