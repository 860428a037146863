/**
 * How `SqlTaskStore` writes a batch, each test small and on a store of its
 * own, on every write path: SQLite through `NodeSqliteClient.transact`,
 * SQLite as statements of one transaction (the plain `SqlClient`), and, when
 * `CHAINJOBS_TEST_PG_URL` is set, PostgreSQL with adaptive and with checked
 * inserts. Aimed at `SqlTaskStore.ts` in mutation runs beside
 * `SqlTaskStoreFast.test.ts`: an id that is stored (not one queued in the
 * same batch, which `GroupCommit` refuses itself) fails its insert as
 * existing, alone or among new ones; a batch is one transaction or one
 * statement, which a failed statement written again apart would multiply
 * (the outcome alone hides it: the pieces store the same rows); a batch
 * writing one id twice; a bad write among a batch's writes of one id; a
 * table that cannot be made; and the adaptive insert policy turning checked.
 */
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { type TaskError, type TaskInfo, TaskStore } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Tracer } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlClient } from "effect/sql"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import * as PgTest from "./pgTestDatabase.ts"
import { recordingTracer } from "./spanRecorder.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"

type Store = TaskStore.TaskStore["Service"]

/** What a store's writes cost: SQL transactions begun, and statements writing rows (`INSERT`, `WITH`). */
interface Cost {
  readonly transactions: number
  readonly statements: number
}

/** A tracer recording the spans made under it, and what the writes among them cost. */
const costRecorder = () => {
  const { spans, tracer } = recordingTracer()
  /** The statement texts of the spans so far. */
  const texts = () => spans.flatMap((span) => {
    const text = span.attributes.get("db.query.text")
    return text === undefined ? [] : [String(text)]
  })
  return {
    tracer,
    texts,
    /** The cost since the last call. */
    take: (): Cost => {
      const cost = {
        transactions: spans.filter((span) => span.name === "sql.transaction").length,
        statements: texts().filter((text) => /^(INSERT|WITH)\b/.test(text)).length
      }
      spans.length = 0
      return cost
    }
  }
}

type Recorder = ReturnType<typeof costRecorder>

/** Runs `body` on a store of `layer`'s, its writes recorded from the start (the writer fiber is forked when it is built). */
const on = (layer: Layer.Layer<TaskStore.TaskStore, unknown>, body: (store: Store, recorder: Recorder) => Effect.Effect<void, unknown>) => {
  const recorder = costRecorder()
  return Effect.gen(function*() {
    const store = yield* TaskStore.TaskStore
    recorder.take()
    yield* body(store, recorder)
  }).pipe(Effect.provide(layer, { local: true }), Effect.provideService(Tracer.Tracer, recorder.tracer))
}

/** The error an insert of a stored id fails with, as operation and detail. */
const existing = (info: TaskInfo.TaskInfo) => ({ operation: "insert", detail: `task ${info.id} already exists` })

/** An outcome of a write: `ok`, or its error as operation and detail. */
const outcome = (error: TaskError.TaskStoreError | undefined) =>
  error === undefined ? "ok" : { operation: error.operation, detail: error.detail }

/** The outcome of a write that ran as an `Exit`. */
const exitOutcome = (exit: Exit.Exit<unknown, TaskError.TaskStoreError>) =>
  Exit.isSuccess(exit) ? "ok" : outcome(exit.cause.reasons.flatMap((reason) => reason._tag === "Fail" ? [reason.error] : [])[0])

/** The stored record of `id`, or `undefined`. */
const stored = (store: Store, id: string) => Effect.map(store.get(id), Option.getOrUndefined)

/** Settings making the next `size` writes one batch: the writer waits until that many are queued. */
const batchOf = (size: number): SqlTaskStore.SqlTaskStoreConfig => ({ flushInterval: "1 hour", maxBatchSize: size })

/** A write path: how to build its store, and what a batch costs there written together (`together`) and with a state change of a new id (`overlapping`). */
interface Path {
  readonly name: string
  readonly store: (config: SqlTaskStore.SqlTaskStoreConfig) => Layer.Layer<TaskStore.TaskStore, unknown>
  /** A batch of inserts, state changes and progress of distinct ids. */
  readonly together: Cost
  /** The same batch meeting a stored id (PostgreSQL's plain insert is then written again, checked). */
  readonly meetingExisting: Cost
  /** A batch writing an id in two of its parts. */
  readonly overlapping: Cost
}

const sqliteTransact: Path = {
  name: "SQLite",
  store: (config) => Layer.unwrap(Effect.map(tempDatabaseFile, (filename) => SqlTaskStore.layerSqlite({ filename, worker: false, ...config }))),
  together: { transactions: 1, statements: 0 },
  meetingExisting: { transactions: 1, statements: 0 },
  overlapping: { transactions: 1, statements: 0 }
}

const sqlitePlain: Path = {
  name: "SQLite, batches as statements of one transaction",
  // The client only as `SqlClient` (no `NodeSqliteClient` in context): the store then has no `transact`.
  store: (config) =>
    Layer.unwrap(Effect.map(tempDatabaseFile, (filename) =>
      SqlTaskStore.layer(config).pipe(
        Layer.provide(Layer.effect(SqlClient.SqlClient, NodeSqliteClient.make({ filename })).pipe(Layer.provide(Reactivity.layer)))
      ))),
  // one statement per size class: 4 + 2 + 1 inserts
  together: { transactions: 1, statements: 3 },
  meetingExisting: { transactions: 1, statements: 3 },
  overlapping: { transactions: 1, statements: 3 }
}

const pgStore = (extra: SqlTaskStore.SqlTaskStoreConfig) => (config: SqlTaskStore.SqlTaskStoreConfig) =>
  Layer.unwrap(Effect.map(PgTest.pgTestSchema, (schema) => PgTest.pgStoreIn(schema, { ...extra, ...config })))

const pgAdaptive: Path = {
  name: "PostgreSQL",
  store: pgStore({}),
  together: { transactions: 0, statements: 1 },
  meetingExisting: { transactions: 0, statements: 2 },
  overlapping: { transactions: 1, statements: 3 }
}

const pgChecked: Path = {
  name: "PostgreSQL, inserts checked",
  store: pgStore({ pgInserts: "checked" }),
  together: { transactions: 0, statements: 1 },
  meetingExisting: { transactions: 0, statements: 1 },
  overlapping: { transactions: 1, statements: 3 }
}

/** The tests of every write path. */
const writes = (path: Path) =>
  describe(`SqlTaskStore writes: ${path.name}`, () => {
    it.effect("an insert of a stored id fails as existing, alone or among new ones, and changes nothing", () =>
      on(path.store({}), (store) =>
        Effect.gen(function*() {
          const old = [record({ status: "running", startedAt: 1 }), record({ status: "completed", startedAt: 1, finishedAt: 2 })]
          yield* store.insertAll!(old)
          const again = old.map((info) => ({ ...info, status: "pending" as const, payload: { again: true } }))
          assert.deepStrictEqual(exitOutcome(yield* Effect.exit(store.insert(again[0]))), existing(old[0]))
          // Four rows then one on SQLite: two existing ids among the first statement's rows.
          const fresh = Array.from({ length: 3 }, () => record())
          const results = yield* store.insertAll!([again[0], fresh[0], again[1], fresh[1], fresh[2]])
          assert.deepStrictEqual(results.map(outcome), [existing(old[0]), "ok", existing(old[1]), "ok", "ok"])
          for (const info of [...old, ...fresh]) assert.deepStrictEqual(yield* stored(store, info.id), info)
        })))

    it.effect("a batch of new records of several sizes is written at once", () =>
      on(path.store({}), (store, recorder) =>
        Effect.gen(function*() {
          const infos = Array.from({ length: 7 }, () => record())
          assert.deepStrictEqual((yield* store.insertAll!(infos)).map(outcome), infos.map(() => "ok" as const))
          assert.deepStrictEqual(recorder.take(), path.together)
          for (const info of infos) assert.deepStrictEqual(yield* stored(store, info.id), info)
        })))

    it.effect("a batch meeting a stored id is still written at once", () =>
      on(path.store({}), (store, recorder) =>
        Effect.gen(function*() {
          const old = record()
          yield* store.insert(old)
          recorder.take()
          const infos = Array.from({ length: 6 }, () => record())
          const results = yield* store.insertAll!([...infos.slice(0, 3), old, ...infos.slice(3)])
          assert.deepStrictEqual(results.map(outcome), ["ok", "ok", "ok", existing(old), "ok", "ok", "ok"])
          assert.deepStrictEqual(recorder.take(), path.meetingExisting)
        })))

    it.effect("a batch inserting an id and changing its state, beside a stored id's insert and progress, is written at once", () =>
      Effect.gen(function*() {
        const [e, b, x, y] = [record(), record({ status: "running", startedAt: 1 }), record(), record()]
        const a = record()
        yield* on(path.store(batchOf(4)), (store, recorder) =>
          Effect.gen(function*() {
            yield* store.insertAll!([e, b, x, y])
            recorder.take()
            const exits = yield* Effect.all([
              Effect.exit(store.insert(a)),
              Effect.exit(store.update({ ...a, status: "running", startedAt: 5 })),
              Effect.exit(store.insert({ ...e, priority: 9 })),
              Effect.exit(store.updateProgress({ ...b, progress: 30 }))
            ], { concurrency: "unbounded" })
            // The inserts and the state change are acknowledged once the batch committed: its progress too.
            assert.deepStrictEqual(exits.map(exitOutcome), ["ok", "ok", existing(e), "ok"])
            assert.deepStrictEqual(recorder.take(), path.overlapping)
            assert.deepStrictEqual(yield* stored(store, a.id), { ...a, status: "running", startedAt: 5 })
            assert.deepStrictEqual(yield* stored(store, e.id), e)
            assert.deepStrictEqual(yield* stored(store, b.id), { ...b, progress: 30 })
            assert.deepStrictEqual((yield* store.unfinished).map((info) => info.id).sort(), [a.id, b.id, e.id, x.id, y.id].sort())
          }))
      }))

    it.effect("a bad state change of a record inserted in the same batch fails alone, and the insert is stored", () =>
      on(path.store(batchOf(3)), (store) =>
        Effect.gen(function*() {
          const [a, c] = [record(), record()]
          const exits = yield* Effect.all([
            Effect.exit(store.insert(a)),
            Effect.exit(store.update({ ...a, status: "running", attempt: Number.NaN })),
            Effect.exit(store.insert(c))
          ], { concurrency: "unbounded" })
          assert.deepStrictEqual(exits.map((exit) => {
            const result = exitOutcome(exit)
            return result === "ok" ? result : result.operation
          }), ["ok", "commit", "ok"])
          assert.deepStrictEqual(yield* stored(store, a.id), a)
          assert.deepStrictEqual(yield* stored(store, c.id), c)
        })))
  })

writes(sqliteTransact)
writes(sqlitePlain)

describe("SqlTaskStore writes: SQLite only", () => {
  it.effect("a store whose table cannot be made (a read-only file) fails to start with a migrate error", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      // The file exists, empty: opening it read-only works, creating the tables does not.
      yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`SELECT 1`
      }).pipe(Effect.provide(NodeSqliteClient.layer({ filename }), { local: true }))
      const started = yield* Effect.exit(on(SqlTaskStore.layerSqlite({ filename, worker: false, readOnly: true }), () => Effect.void))
      assert.isTrue(Exit.isFailure(started))
      const error = Exit.isFailure(started) ? started.cause.reasons.find((reason) => reason._tag === "Fail") : undefined
      const failure = error?._tag === "Fail" ? error.error as TaskError.TaskStoreError : undefined
      assert.strictEqual(failure?._tag, "TaskStoreError")
      assert.strictEqual(failure?.operation, "migrate")
      assert.match(failure?.detail ?? "", /readonly/)
    }))
})

PgTest.reportSkipped("the store write-path tests")
describe.skipIf(PgTest.pgTestUrl === undefined)("PostgreSQL", () => {
  writes(pgAdaptive)
  writes(pgChecked)

  it.effect("adaptive inserts turn checked once recent batches met stored ids", () =>
    on(pgAdaptive.store({}), (store, recorder) =>
      Effect.gen(function*() {
        const old = [record(), record()]
        yield* store.insertAll!(old)
        /** Whether the last batch statement checked its inserts (answering those not stored) or sent them plain. */
        const lastInserts = () => {
          const last = recorder.texts().filter((text) => text.startsWith("WITH")).at(-1) ?? ""
          recorder.take()
          return last.endsWith("SELECT NULL AS n WHERE false") ? "plain" : /NOT EXISTS \(SELECT 1 FROM inserted/.test(last) ? "checked" : last
        }
        assert.strictEqual(lastInserts(), "plain")
        // One batch meeting a stored id is an eighth of the running share: still under the threshold (a sixth).
        assert.deepStrictEqual(exitOutcome(yield* Effect.exit(store.insert(old[0]))), existing(old[0]))
        assert.strictEqual(lastInserts(), "checked")
        yield* store.insert(record())
        assert.strictEqual(lastInserts(), "plain")
        // Two in a row pass it: the next batch goes checked.
        assert.deepStrictEqual(exitOutcome(yield* Effect.exit(store.insert(old[1]))), existing(old[1]))
        assert.deepStrictEqual(exitOutcome(yield* Effect.exit(store.insert(old[0]))), existing(old[0]))
        recorder.take()
        yield* store.insert(record())
        assert.strictEqual(lastInserts(), "checked")
      })))

  it.effect("a batch inserting ids and recording progress of one of them, or changing a state and recording its progress, is one transaction", () =>
    on(pgAdaptive.store(batchOf(4)), (store, recorder) =>
      Effect.gen(function*() {
        const [a, b, c] = [record({ status: "running", startedAt: 1 }), record(), record({ status: "running", startedAt: 1 })]
        // Progress is acknowledged when queued, the inserts once the batch committed.
        const inserted = yield* Effect.all([
          Effect.exit(store.insert(a)),
          Effect.exit(store.updateProgress({ ...a, progress: 10 })),
          Effect.exit(store.insert(b)),
          Effect.exit(store.insert(c))
        ], { concurrency: "unbounded" })
        assert.deepStrictEqual(inserted.map(exitOutcome), ["ok", "ok", "ok", "ok"])
        assert.deepStrictEqual(recorder.take(), { transactions: 1, statements: 2 })
        // No inserts: that part is left out, and the others are written in one transaction.
        const changed = yield* Effect.all([
          Effect.exit(store.update({ ...b, status: "running", startedAt: 2 })),
          Effect.exit(store.updateProgress({ ...b, status: "running", startedAt: 2, progress: 20 })),
          Effect.exit(store.updateProgress({ ...c, progress: 30 })),
          Effect.exit(store.updateProgress({ ...a, progress: 40 }))
        ], { concurrency: "unbounded" })
        assert.deepStrictEqual(changed.map(exitOutcome), ["ok", "ok", "ok", "ok"])
        assert.deepStrictEqual(recorder.take(), { transactions: 1, statements: 2 })
        assert.deepStrictEqual(yield* stored(store, a.id), { ...a, progress: 40 })
        assert.deepStrictEqual(yield* stored(store, b.id), { ...b, status: "running", startedAt: 2, progress: 20 })
        assert.deepStrictEqual(yield* stored(store, c.id), { ...c, progress: 30 })
      })))
})
