/**
 * What `SqlTaskStore` promises, each test small and on a store of its own:
 * SQLite in the test process (a real file in a temp directory) and, when
 * `CHAINJOBS_TEST_PG_URL` is set, PostgreSQL (a schema of its own). Aimed at
 * the store's and its table's code (`SqlTaskStore.ts`, `internal/taskTable.ts`)
 * in mutation runs, where every mutant in `make` runs every test that builds a
 * store: the whole file takes seconds, where `SqlTaskStore.test`'s property
 * runs, worker threads and PostgreSQL conformance take a minute or more.
 */
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { type TaskError, type TaskInfo, TaskQuery, TaskStore } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Config, ConfigProvider, Effect, Exit, Fiber, Layer, Option } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlClient } from "effect/sql"
import { table, unfinishedTable } from "../src/internal/taskTable.ts"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import * as PgTest from "./pgTestDatabase.ts"
import { statementsOf } from "./statementTexts.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"

type Store = TaskStore.TaskStore["Service"]

/** A store on a fresh SQLite file, in the test process. */
const sqliteStore = Layer.unwrap(Effect.map(tempDatabaseFile, (filename) => SqlTaskStore.layerSqlite({ filename, worker: false })))

/**
 * A store on a fresh SQLite file through the plain `SqlClient` alone: its batches go as statements of one
 * transaction. The client is provided only as `SqlClient`: a layer provided to another merges into the context
 * around it, so `NodeSqliteClient.layer` anywhere below would hand the store its `transact` after all.
 */
const sqliteStoreWithoutTransact = Layer.unwrap(Effect.map(tempDatabaseFile, (filename) =>
  SqlTaskStore.layer().pipe(
    Layer.provide(Layer.effect(SqlClient.SqlClient, NodeSqliteClient.make({ filename })).pipe(Layer.provide(Reactivity.layer)))
  )))

/** Runs `body` on a store of `layer`'s, released when it ends. */
const on = (layer: Layer.Layer<TaskStore.TaskStore, unknown>, body: (store: Store) => Effect.Effect<void, unknown>) =>
  Effect.gen(function*() {
    yield* body(yield* TaskStore.TaskStore)
  }).pipe(Effect.provide(layer, { local: true }))

/** A finished record: `status` at `finishedAt`, expiring at `expiresAt`. */
const finished = (status: "completed" | "failed" | "interrupted", finishedAt: number, expiresAt: number | null = null) =>
  record({ status, startedAt: finishedAt - 1, finishedAt, expiresAt })

/** Inserts `infos`, each acknowledged. */
const insertEach = (store: Store, infos: ReadonlyArray<TaskInfo.TaskInfo>) =>
  Effect.forEach(infos, (info) => store.insert(info), { discard: true })

/**
 * Waits until every write queued before is stored: progress is acknowledged
 * when queued, and `remove` waits for the writes queued before it.
 */
const settled = (store: Store) => Effect.asVoid(store.remove("no such task"))

/** The ids of a page. */
const ids = (infos: ReadonlyArray<TaskInfo.TaskInfo>) => infos.map((info) => info.id)

/** The tests every database must pass; `only`, when given, picks those whose titles it matches. */
const common = (name: string, layer: () => Layer.Layer<TaskStore.TaskStore, unknown>, only?: RegExp) =>
  describe(`SqlTaskStore, fast: ${name}`, () => {
    const test = (title: string, body: (store: Store) => Effect.Effect<void, unknown>) =>
      only === undefined || only.test(title) ? it.effect(title, () => on(layer(), body)) : undefined

    test("every field reads back as written, set or empty", (store) =>
      Effect.gen(function*() {
        const full = record({
          status: "failed",
          reason: "error",
          priority: 2.5,
          key: "key-1",
          owner: "bob",
          attempt: 3,
          progress: 42.5,
          message: "half",
          detail: { step: "two", n: [1, 2] },
          payload: { to: "0xab", amount: "12" },
          result: [1, "two", null],
          error: { tag: "Boom", text: "boom" },
          errorMessage: "boom",
          checkpoint: { block: 17 },
          startedAt: 5_000,
          finishedAt: 6_000,
          heartbeatAt: 5_500,
          expiresAt: 9_000,
          timeoutMillis: 30_000,
          heartbeatTimeoutMillis: 4_000,
          runner: "127.0.0.1:4000",
          retries: 2
        })
        const empty = record({ payload: null })
        const falsy = record({ payload: 0, detail: false, result: "", checkpoint: 0, priority: -1, progress: 0 })
        yield* insertEach(store, [full, empty, falsy])
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(full.id)), full)
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(empty.id)), empty)
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(falsy.id)), falsy)
        assert.isTrue(Option.isNone(yield* store.get(`${full.id}-missing`)))
      }))

    test("a state change keeps what was fixed at insert and overwrites the rest", (store) =>
      Effect.gen(function*() {
        const info = record({ key: "k", owner: "alice", timeoutMillis: 1_000, heartbeatTimeoutMillis: 500, retries: 1 })
        yield* store.insert(info)
        const changed: TaskInfo.TaskInfo = {
          ...info,
          kind: "other",
          key: "k2",
          owner: "mallory",
          payload: { n: -1 },
          createdAt: 1,
          timeoutMillis: 2_000,
          heartbeatTimeoutMillis: 700,
          retries: 5,
          status: "completed",
          reason: null,
          priority: 7,
          attempt: 2,
          progress: 100,
          message: "done",
          detail: { d: 1 },
          result: { ok: true },
          error: null,
          errorMessage: null,
          checkpoint: { c: 2 },
          startedAt: 10,
          finishedAt: 20,
          heartbeatAt: 15,
          expiresAt: 30,
          runner: "r2"
        }
        yield* store.update(changed)
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(info.id)), {
          ...changed,
          kind: info.kind,
          key: info.key,
          owner: info.owner,
          payload: info.payload,
          createdAt: info.createdAt,
          timeoutMillis: 1_000,
          heartbeatTimeoutMillis: 500,
          retries: 1
        })
      }))

    test("progress overwrites a running record's progress, message, detail and checkpoint, never a finished one", (store) =>
      Effect.gen(function*() {
        const running = record({ status: "running", startedAt: 1 })
        const done = finished("completed", 50)
        yield* insertEach(store, [running, done])
        const progressed = { ...running, progress: 60, message: "more", detail: { at: 6 }, checkpoint: { block: 6 }, heartbeatAt: 9 }
        yield* store.updateProgress(progressed)
        yield* store.updateProgress({ ...done, status: "running", progress: 1, message: "late", finishedAt: null })
        yield* settled(store)
        for (const status of ["failed", "interrupted"] as const) {
          const ended = finished(status, 60)
          yield* store.insert(ended)
          yield* store.updateProgress({ ...ended, status: "running", progress: 3, finishedAt: null })
          yield* settled(store)
          assert.deepStrictEqual(Option.getOrThrow(yield* store.get(ended.id)), ended)
        }
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(running.id)), progressed)
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(done.id)), done)
        // A progress write of an id never inserted stores it, as a state change would.
        const fresh = record({ status: "running", startedAt: 2, progress: 5 })
        yield* store.updateProgress(fresh)
        yield* settled(store)
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(fresh.id)), fresh)
      }))

    test("each list filter alone, and all of them together", (store) =>
      Effect.gen(function*() {
        const a = record({ kind: "a", owner: "alice", createdAt: 100 })
        const b = record({ kind: "b", owner: "bob", createdAt: 200, status: "running", startedAt: 1 })
        const c = { ...finished("completed", 5), kind: "a", owner: null, createdAt: 300 }
        const d = { ...finished("failed", 5), kind: "c", owner: "alice", createdAt: 400 }
        const e = { ...finished("interrupted", 5), kind: "b", owner: "bob", createdAt: 500 }
        yield* insertEach(store, [a, b, c, d, e])
        const listed = (query: TaskQuery.TaskQuery) => Effect.map(store.list(query), (page) => ids(page.items))
        assert.deepStrictEqual(yield* listed({}), ids([e, d, c, b, a]))
        assert.deepStrictEqual(yield* listed({ status: ["pending"] }), ids([a]))
        assert.deepStrictEqual(yield* listed({ status: ["running"] }), ids([b]))
        assert.deepStrictEqual(yield* listed({ status: ["pending", "running"] }), ids([b, a]))
        assert.deepStrictEqual(yield* listed({ status: ["completed"] }), ids([c]))
        assert.deepStrictEqual(yield* listed({ status: ["failed", "interrupted"] }), ids([e, d]))
        assert.deepStrictEqual(yield* listed({ status: ["completed", "pending"] }), ids([c, a]))
        assert.deepStrictEqual(yield* listed({ status: [] }), [])
        assert.deepStrictEqual(yield* listed({ kind: ["a"] }), ids([c, a]))
        assert.deepStrictEqual(yield* listed({ kind: ["a", "c"] }), ids([d, c, a]))
        assert.deepStrictEqual(yield* listed({ kind: [] }), [])
        assert.deepStrictEqual(yield* listed({ owner: "alice" }), ids([d, a]))
        assert.deepStrictEqual(yield* listed({ createdAfter: 300 }), ids([e, d, c]))
        assert.deepStrictEqual(yield* listed({ createdBefore: 300 }), ids([b, a]))
        assert.deepStrictEqual(yield* listed({ createdAfter: 200, createdBefore: 500 }), ids([d, c, b]))
        assert.deepStrictEqual(yield* listed({ cursor: c.id }), ids([b, a]))
        assert.deepStrictEqual(
          yield* listed({ status: ["pending", "failed"], kind: ["a", "c"], owner: "alice", createdAfter: 100, createdBefore: 401 }),
          ids([d, a])
        )
        assert.deepStrictEqual(yield* listed({ status: ["running"], kind: ["a"] }), [])
      }))

    test("a page holds `limit` records and a cursor exactly when more follow", (store) =>
      Effect.gen(function*() {
        const infos = Array.from({ length: 5 }, () => record())
        yield* insertEach(store, infos)
        const newest = [...infos].reverse()
        const first = yield* store.list({ limit: 2 })
        assert.deepStrictEqual(first, { items: newest.slice(0, 2), nextCursor: newest[1].id })
        const second = yield* store.list({ limit: 2, cursor: first.nextCursor! })
        assert.deepStrictEqual(second, { items: newest.slice(2, 4), nextCursor: newest[3].id })
        assert.deepStrictEqual(yield* store.list({ limit: 1, cursor: second.nextCursor! }), { items: newest.slice(4), nextCursor: null })
        assert.deepStrictEqual(yield* store.list({ limit: 5 }), { items: newest, nextCursor: null })
        assert.deepStrictEqual(yield* store.list({ limit: 4 }), { items: newest.slice(0, 4), nextCursor: newest[3].id })
        assert.deepStrictEqual(yield* store.list({ limit: 1, status: ["completed"] }), { items: [], nextCursor: null })
      }))

    test("a page is 50 records unless asked otherwise, and never more than 1,000", (store) =>
      Effect.gen(function*() {
        const infos = Array.from({ length: 1_001 }, () => record())
        assert.deepStrictEqual(yield* store.insertAll!(infos), Array(1_001).fill(undefined))
        const newest = [...infos].reverse()
        const page = yield* store.list({})
        assert.deepStrictEqual(ids(page.items), ids(newest.slice(0, TaskQuery.defaultLimit)))
        assert.strictEqual(page.nextCursor, newest[TaskQuery.defaultLimit - 1].id)
        const most = yield* store.list({ limit: 5_000 })
        assert.strictEqual(most.items.length, TaskQuery.maxLimit)
        assert.strictEqual(most.nextCursor, newest[TaskQuery.maxLimit - 1].id)
      }))

    test("count by status under each filter", (store) =>
      Effect.gen(function*() {
        const infos = [
          record({ kind: "a", owner: "alice", createdAt: 100 }),
          record({ kind: "a", createdAt: 200 }),
          record({ kind: "b", owner: "alice", createdAt: 300, status: "running", startedAt: 1 }),
          { ...finished("completed", 5), kind: "a", createdAt: 400 },
          { ...finished("completed", 5), kind: "b", owner: "alice", createdAt: 500 },
          { ...finished("failed", 5), kind: "b", createdAt: 600 },
          { ...finished("interrupted", 5), kind: "a", createdAt: 700 }
        ]
        yield* insertEach(store, infos)
        const counts = (pending: number, running: number, completed: number, failed: number, interrupted: number) => ({
          pending,
          running,
          completed,
          failed,
          interrupted
        })
        assert.deepStrictEqual(yield* store.count({}), counts(2, 1, 2, 1, 1))
        assert.deepStrictEqual(yield* store.count({ status: ["pending", "running"] }), counts(2, 1, 0, 0, 0))
        assert.deepStrictEqual(yield* store.count({ status: ["failed"] }), counts(0, 0, 0, 1, 0))
        assert.deepStrictEqual(yield* store.count({ status: ["completed", "interrupted"] }), counts(0, 0, 2, 0, 1))
        assert.deepStrictEqual(yield* store.count({ kind: ["a"] }), counts(2, 0, 1, 0, 1))
        assert.deepStrictEqual(yield* store.count({ owner: "alice" }), counts(1, 1, 1, 0, 0))
        assert.deepStrictEqual(yield* store.count({ createdAfter: 300, createdBefore: 600 }), counts(0, 1, 2, 0, 0))
        assert.deepStrictEqual(yield* store.count({ status: [] }), counts(0, 0, 0, 0, 0))
        assert.deepStrictEqual(yield* store.count({ kind: [] }), counts(0, 0, 0, 0, 0))
        // The page's limit and cursor do not narrow a count.
        assert.deepStrictEqual(yield* store.count({ limit: 1, cursor: infos[0].id }), counts(2, 1, 2, 1, 1))
      }))

    test("purge removes finished records by status, finish time (before) and expiry (at or before), and answers them", (store) =>
      Effect.gen(function*() {
        const old = finished("completed", 100)
        const edge = finished("completed", 200)
        const failed = finished("failed", 100, 500)
        const expiring = finished("interrupted", 300, 400)
        const pending = record({ expiresAt: 1, finishedAt: 1 })
        const running = record({ status: "running", startedAt: 1, finishedAt: 1, expiresAt: 1 })
        yield* insertEach(store, [old, edge, failed, expiring, pending, running])
        assert.deepStrictEqual(yield* store.purge({ status: ["pending", "running"] }), [])
        assert.deepStrictEqual(yield* store.purge({ status: [] }), [])
        assert.deepStrictEqual(ids(yield* store.purge({ finishedBefore: 200, status: ["completed"] })), ids([old]))
        assert.deepStrictEqual(ids(yield* store.purge({ expiredBy: 399 })), [])
        assert.deepStrictEqual(yield* store.purge({ expiredBy: 400 }), [expiring])
        assert.deepStrictEqual(ids(yield* store.purge({ finishedBefore: 201, expiredBy: 499 })), [])
        assert.deepStrictEqual(ids(yield* store.purge({ finishedBefore: 201, status: ["failed", "completed"] })).sort(), ids([edge, failed]).sort())
        assert.deepStrictEqual(ids((yield* store.list({})).items), ids([running, pending]))
        assert.deepStrictEqual(ids(yield* store.unfinished), ids([pending, running]))
      }))

    test("remove answers whether the record existed, after the writes queued before it", (store) =>
      Effect.gen(function*() {
        const info = record({ status: "running", startedAt: 1 })
        const other = record()
        yield* store.insert(other)
        yield* store.insert(info)
        const progressed = yield* Effect.forkChild(store.updateProgress({ ...info, progress: 9 }), { startImmediately: true })
        assert.isTrue(yield* store.remove(info.id))
        yield* Fiber.join(progressed)
        assert.isFalse(yield* store.remove(info.id))
        assert.isTrue(Option.isNone(yield* store.get(info.id)))
        assert.deepStrictEqual(ids(yield* store.unfinished), ids([other]))
        assert.deepStrictEqual(yield* store.count({}), { pending: 1, running: 0, completed: 0, failed: 0, interrupted: 0 })
      }))

    test("unfinished holds pending and running records, oldest first, and follows their state changes", (store) =>
      Effect.gen(function*() {
        const infos = Array.from({ length: 4 }, () => record())
        yield* insertEach(store, [...infos].reverse())
        yield* store.update({ ...infos[1], status: "running", startedAt: 3 })
        yield* store.update({ ...infos[2], status: "completed", startedAt: 3, finishedAt: 4 })
        yield* store.updateProgress({ ...infos[3], status: "failed", finishedAt: 4 })
        yield* settled(store)
        assert.deepStrictEqual(ids(yield* store.unfinished), ids([infos[0], infos[1]]))
        // A finished record recorded unfinished again (a retry) is unfinished again.
        yield* store.update({ ...infos[2], status: "pending", startedAt: null, finishedAt: null, attempt: 2 })
        assert.deepStrictEqual(ids(yield* store.unfinished), ids([infos[0], infos[1], infos[2]]))
        assert.deepStrictEqual(ids((yield* store.list({ status: ["pending", "running"] })).items), ids([infos[2], infos[1], infos[0]]))
        assert.deepStrictEqual((yield* store.count({ status: ["running", "pending"] })).pending, 2)
      }))

    test("a batch's inserts, state changes and progress of other ids are stored together", (store) =>
      Effect.gen(function*() {
        const [a, b, c] = [record(), record({ status: "running", startedAt: 1 }), record({ status: "running", startedAt: 1 })]
        yield* insertEach(store, [b, c])
        const fresh = Array.from({ length: 3 }, () => record())
        const results = yield* Effect.all([
          store.insertAll!([a, ...fresh]),
          Effect.exit(store.update({ ...b, status: "completed", finishedAt: 2 })),
          Effect.exit(store.updateProgress({ ...c, progress: 50 })),
          Effect.exit(store.insert(b))
        ], { concurrency: "unbounded" })
        assert.deepStrictEqual(results[0], [undefined, undefined, undefined, undefined])
        assert.isTrue(Exit.isSuccess(results[1]) && Exit.isSuccess(results[2]))
        yield* settled(store)
        const refused = results[3]
        assert.isTrue(Exit.isFailure(refused) && /already exists/.test(String(Exit.isFailure(refused) ? refused.cause : "")))
        assert.strictEqual(Option.getOrThrow(yield* store.get(b.id)).status, "completed")
        assert.strictEqual(Option.getOrThrow(yield* store.get(c.id)).progress, 50)
        assert.deepStrictEqual(ids(yield* store.unfinished), ids([a, c, ...fresh]))
      }))

    test("an existing id in a batch that a bad record fails is still refused as existing; the good record is stored", (store) =>
      Effect.gen(function*() {
        const existing = record({ payload: { first: true } })
        yield* store.insert(existing)
        const fresh = record()
        const results = yield* store.insertAll!([{ ...existing, payload: { second: true } }, record({ priority: Number.NaN }), fresh])
        assert.deepStrictEqual(results.map((result) => [result?.operation, result?.detail]), [
          ["insert", `task ${existing.id} already exists`],
          ["commit", results[1]?.detail],
          [undefined, undefined]
        ])
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(existing.id)), existing)
        assert.deepStrictEqual(ids((yield* store.list({})).items), ids([fresh, existing]))
      }))

    test("bad records fail alone, with a typed error, and store nothing of theirs", (store) =>
      Effect.gen(function*() {
        const infos = Array.from({ length: 9 }, (_, n) =>
          n === 2 || n === 7 ? record({ priority: Number.NaN }) : n === 5 ? record({ payload: { big: 1n } }) : record())
        const results = yield* store.insertAll!(infos)
        assert.deepStrictEqual(results.map((result) => result?._tag), infos.map((_, n) => (n === 2 || n === 5 || n === 7 ? "TaskStoreError" : undefined)))
        assert.deepStrictEqual(results.map((result) => result?.operation), infos.map((_, n) => (n === 2 || n === 5 || n === 7 ? "commit" : undefined)))
        assert.deepStrictEqual(ids((yield* store.list({})).items), ids(infos.filter((_, n) => n !== 2 && n !== 5 && n !== 7)).reverse())
        // A bad state change and a bad progress write among good ones fail alone too.
        const good = infos[0]
        const [updated, progressed, badUpdate, badProgress] = yield* Effect.all([
          Effect.exit(store.update({ ...good, status: "running", startedAt: 1 })),
          Effect.exit(store.updateProgress({ ...infos[1], status: "running", progress: 4 })),
          Effect.exit(store.update({ ...infos[3], status: "running", attempt: Number.NaN })),
          Effect.exit(store.updateProgress({ ...infos[4], checkpoint: { at: 2n } }))
        ], { concurrency: "unbounded" })
        assert.deepStrictEqual([updated, progressed].map(Exit.isSuccess), [true, true])
        yield* settled(store)
        // Progress is acknowledged when queued: a bad one is dropped, the record left as it was.
        assert.deepStrictEqual([badUpdate, badProgress].map(Exit.isFailure), [true, false])
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(infos[3].id)), infos[3])
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(infos[4].id)), infos[4])
        assert.strictEqual(Option.getOrThrow(yield* store.get(infos[1].id)).progress, 4)
      }))
  })

/** A store (SQLite) whose settings are refused fails to start with a typed error, before it creates its table. */
const refusesSettings = (config: SqlTaskStore.SqlTaskStoreConfig, detail: RegExp) =>
  it.effect(`a store with ${JSON.stringify(config)} fails to start and creates nothing`, () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      const started = yield* Effect.exit(on(SqlTaskStore.layerSqlite({ filename, worker: false, ...config }), () => Effect.void))
      assert.isTrue(Exit.isFailure(started))
      const error = Exit.isFailure(started) ? started.cause.reasons.find((reason) => reason._tag === "Fail") : undefined
      const failure = error?._tag === "Fail" ? error.error as { _tag: string; operation: string; detail: string } : undefined
      assert.strictEqual(failure?._tag, "TaskStoreError")
      assert.strictEqual(failure?.operation, "configure")
      assert.match(failure?.detail ?? "", detail)
      const tables = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ readonly name: string }>`SELECT name FROM sqlite_master WHERE type = 'table'`
      }).pipe(Effect.provide(NodeSqliteClient.layer({ filename }), { local: true }))
      assert.deepStrictEqual(tables, [])
    }))

describe("SqlTaskStore, fast: SQLite only", () => {
  refusesSettings({ maxBatchSize: 0 }, /maxBatchSize/)
  refusesSettings({ batchesInFlight: 1.5 }, /batchesInFlight/)
  refusesSettings({ pgInserts: "sometimes" as SqlTaskStore.InsertMode }, /pgInserts must be one of/)

  it.effect("a store opened again on its file finds its records, and its table is not created twice", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      const info = record({ status: "running", startedAt: 1, detail: { a: 1 } })
      const layer = SqlTaskStore.layerSqlite({ filename, worker: false })
      yield* on(layer, (store) => store.insert(info))
      yield* on(layer, (store) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(yield* store.unfinished, [info])
          const sql = yield* SqlClient.SqlClient
          const columns = yield* sql<{ readonly name: string }>`SELECT name FROM pragma_table_info(${table})`
          assert.strictEqual(columns.length, 25)
        }).pipe(Effect.provide(NodeSqliteClient.layer({ filename }))))
    }))

  it.live("the batching settings given reach the writer: a write waits for flushInterval unless maxBatchSize fills its batch", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      const [a, b] = [record(), record()]
      yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        const first = yield* Effect.forkChild(store.insert(a), { startImmediately: true })
        // An hour's wait: not written after 200 ms, however loaded the machine (written at once without the settings).
        yield* Effect.sleep("200 millis")
        assert.isUndefined(first.pollUnsafe())
        yield* store.insert(b)
        yield* Fiber.join(first)
        assert.deepStrictEqual(ids((yield* store.list({})).items), ids([b, a]))
      }).pipe(Effect.provide(SqlTaskStore.layerSqlite({ filename, worker: false, flushInterval: "1 hour", maxBatchSize: 2 }), { local: true }))
    }))

  it.effect("each read and removal the database refuses fails with a TaskStoreError naming its operation", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        const sql = yield* SqlClient.SqlClient
        yield* store.insert(record())
        yield* sql`DROP TABLE ${sql(table)}`
        const refused = yield* Effect.forEach(
          [store.get("a"), store.list({}), store.count({}), store.remove("a"), store.purge({}), store.unfinished],
          (read) => Effect.flip<unknown, TaskError.TaskStoreError, never>(read)
        )
        assert.deepStrictEqual(
          refused.map((error) => [error._tag, error.operation, /no such table/.test(error.detail)]),
          ["get", "list", "count", "remove", "purge", "unfinished"].map((operation) => ["TaskStoreError", operation, true])
        )
      }).pipe(Effect.provide(SqlTaskStore.layer().pipe(Layer.provideMerge(NodeSqliteClient.layer({ filename, worker: false }))), { local: true }))
    }))

  it.effect("a record stored before the detail column existed reads with a null detail", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      const info = record()
      yield* on(SqlTaskStore.layerSqlite({ filename, worker: false }), (store) => store.insert(info))
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`UPDATE ${sql(table)} SET detail = NULL`
      }).pipe(Effect.provide(NodeSqliteClient.layer({ filename }), { local: true }))
      yield* on(SqlTaskStore.layerSqlite({ filename, worker: false }), (store) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(Option.getOrThrow(yield* store.get(info.id)), info)
        }))
    }))
})

describe("SqlTaskStore, fast: layers read from configuration", () => {
  it.effect("layerSqliteConfig opens the file its configuration names", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      const info = record()
      yield* on(SqlTaskStore.layerSqliteConfig({ filename: Config.String("STORE_FILE"), worker: Config.succeed(false) }), (store) =>
        store.insert(info)).pipe(
          Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromUnknown({ STORE_FILE: filename }))
        )
      yield* on(SqlTaskStore.layerSqlite({ filename, worker: false }), (store) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(Option.getOrThrow(yield* store.get(info.id)), info)
        }))
    }))

  it.effect.skipIf(PgTest.pgTestUrl === undefined)("layerPgConfig creates its schema, named as it is (case, dots, commas, quotes), and writes there", () =>
    Effect.gen(function*() {
      const schema = yield* PgTest.pgTestSchemaNamed(`Fast.Store, public "q"`)
      const info = record({ status: "running", startedAt: 1 })
      yield* on(SqlTaskStore.layerPgConfig({ url: Config.Redacted("STORE_URL"), schema: Config.String("STORE_SCHEMA") }), (store) =>
        store.insert(info)).pipe(
          Effect.provideService(
            ConfigProvider.ConfigProvider,
            ConfigProvider.fromUnknown({ STORE_URL: PgTest.pgTestUrl, STORE_SCHEMA: schema })
          )
        )
      const stored = yield* PgTest.onPgTestDatabase(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const tasks = yield* sql<{ readonly id: string }>`SELECT id FROM ${sql.literal(`${PgTest.quoted(schema)}.${table}`)}`
        const unfinished = yield* sql<{ readonly id: string }>`SELECT id FROM ${sql.literal(`${PgTest.quoted(schema)}.${unfinishedTable}`)}`
        return [...tasks, ...unfinished].map((row) => row.id)
      }))
      assert.deepStrictEqual(stored, [info.id, info.id])
    }))
})

common("SQLite", () => sqliteStore)
common("SQLite, batches as statements of one transaction", () => sqliteStoreWithoutTransact)

PgTest.reportSkipped("the fast store tests")
describe.skipIf(PgTest.pgTestUrl === undefined)("PostgreSQL", () => {
  common("PostgreSQL", () => PgTest.pgTestStore)
  common(
    "PostgreSQL, inserts checked",
    () => Layer.unwrap(Effect.map(PgTest.pgTestSchema, (schema) => PgTest.pgStoreIn(schema, { pgInserts: "checked" }))),
    /^(every field|a batch's inserts|bad records)/
  )

  it.effect("each batch is one statement, whatever its parts' shapes and those of the batches before it", () =>
    Effect.gen(function*() {
      const schema = yield* PgTest.pgTestSchema
      const [a, b, c] = [record(), record(), record()]
      /** Two writes queued together: one batch (it waits an hour unless full). */
      const pair = (first: Effect.Effect<void, unknown>, second: Effect.Effect<void, unknown>) =>
        Effect.all([first, second], { concurrency: "unbounded", discard: true })
      const texts = yield* statementsOf(Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        yield* pair(store.insert(a), store.insert(b))
        yield* pair(store.update({ ...a, status: "running", startedAt: 1 }), store.update({ ...b, status: "running", startedAt: 2 }))
        // Another shape of state changes alone: the status and the reason vary too.
        yield* pair(
          store.update({ ...a, status: "completed", startedAt: 1, finishedAt: 3, result: 1 }),
          store.update({ ...b, status: "failed", reason: "error", startedAt: 2, finishedAt: 4, errorMessage: "no" })
        )
        // State changes and inserts together, of other ids.
        yield* pair(store.insert(c), store.update({ ...b, status: "pending", attempt: 2 }))
        assert.deepStrictEqual(ids((yield* store.list({})).items), ids([c, b, a]))
        assert.deepStrictEqual((yield* store.count({})), { ...TaskQuery.noCounts(), pending: 2, completed: 1 })
      }).pipe(Effect.provide(PgTest.pgStoreIn(schema, { flushInterval: "1 hour", maxBatchSize: 2 }), { local: true })))
      assert.strictEqual(texts.filter((text) => text.startsWith("WITH ")).length, 4)
    }))

  it.effect("the unfinished ids follow each write, in the write's own statement", () =>
    Effect.gen(function*() {
      const schema = yield* PgTest.pgTestSchema
      yield* on(PgTest.pgStoreIn(schema), (store) =>
        Effect.gen(function*() {
          const unfinishedIds = PgTest.onPgTestDatabase(Effect.gen(function*() {
            const sql = yield* SqlClient.SqlClient
            const rows = yield* sql<{ readonly id: string }>`SELECT id FROM ${sql.literal(`${PgTest.quoted(schema)}.${unfinishedTable}`)} ORDER BY id`
            return rows.map((row) => row.id)
          }))
          const [a, b, c] = [record(), record(), finished("completed", 3)]
          yield* insertEach(store, [a, b, c])
          assert.deepStrictEqual(yield* unfinishedIds, [a.id, b.id])
          yield* store.update({ ...a, status: "running", startedAt: 1 })
          yield* store.updateProgress({ ...b, status: "failed", finishedAt: 2 })
          assert.deepStrictEqual(yield* unfinishedIds, [a.id])
          yield* store.update({ ...c, status: "pending", finishedAt: null })
          assert.deepStrictEqual(yield* unfinishedIds, [a.id, c.id])
          assert.isTrue(yield* store.remove(a.id))
          assert.deepStrictEqual(yield* unfinishedIds, [c.id])
        }))
    }))
})
