import { record, storeConformance } from "@chainjobs/tasks/test/TaskStoreConformance"
import { type TaskError, TaskInfo, TaskStore } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Config, ConfigProvider, Effect, Exit, Fiber, Layer, Logger, Option, Redacted, References, Schema, Tracer } from "effect"
import { SqlClient } from "effect/sql"
import { pgPart } from "../src/internal/pgColumns.ts"
import { columns, rowsValues, sizeClasses, toValues } from "../src/internal/taskTable.ts"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import {
  onPgTestDatabase,
  pgStoreIn,
  pgTestSchema,
  pgTestSchemaNamed,
  pgTestStore,
  pgTestUrl,
  quoted,
  reportSkipped
} from "./pgTestDatabase.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"
import { transactionCounter } from "./transactionCounter.ts"

/** A store on a fresh SQLite file in a temp directory, removed when the layer is released. */
const sqliteStore = (worker: boolean) =>
  Layer.unwrap(Effect.map(tempDatabaseFile, (filename) => SqlTaskStore.layerSqlite({ filename, worker })))

/** What the store promises beyond the conformance suite, on each database. */
const beyondConformance = (name: string, layer: Layer.Layer<TaskStore.TaskStore, unknown>) =>
  describe(`SqlTaskStore on ${name}`, () => {
    const test = (title: string, body: (store: TaskStore.TaskStore["Service"]) => Effect.Effect<void, unknown>) =>
      it.effect(title, () =>
        Effect.gen(function*() {
          yield* body(yield* TaskStore.TaskStore)
        }).pipe(Effect.provide(layer, { local: true })))

    test("a record that cannot be stored fails its own write, not the others in its batch", (store) =>
      Effect.gen(function*() {
        const [good, otherGood] = [record(), record()]
        const notNull = record({ priority: Number.NaN }) // violates NOT NULL
        const notJson = record({ payload: { amount: 1n } }) // JSON.stringify throws
        const results = yield* Effect.all([good, notNull, notJson, otherGood].map((info) => Effect.exit(store.insert(info))), {
          concurrency: "unbounded"
        })
        assert.deepStrictEqual(results.map(Exit.isSuccess), [true, false, false, true])
        const stored = yield* store.list({})
        assert.deepStrictEqual(stored.items.map((info) => info.id), [otherGood.id, good.id])
        // Alone in its batch, a record that does not encode is a typed failure too, not a defect.
        const alone = yield* Effect.flip(store.insert(record({ payload: { amount: 2n } })))
        assert.strictEqual(alone._tag, "TaskStoreError")
      }))

    test("a progress write that cannot be stored does not fail the state change of its task in the same batch", (store) =>
      Effect.gen(function*() {
        const info = record()
        yield* store.insert(info)
        const running = { ...info, status: "running" as const, startedAt: 1 }
        const update = yield* Effect.forkChild(Effect.exit(store.update(running)), { startImmediately: true })
        yield* store.updateProgress({ ...running, progress: 10, checkpoint: { block: 1n } }) // JSON.stringify throws
        const updated = yield* Fiber.join(update)
        assert.isTrue(Exit.isSuccess(updated), "the committed update was reported failed")
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(info.id)), running)
      }))

    test("an insert fails when an update of its id was queued before it, and the update's record stays", (store) =>
      Effect.gen(function*() {
        const info = record({ status: "running", startedAt: 1 })
        const update = yield* Effect.forkChild(store.update(info), { startImmediately: true })
        const insert = yield* Effect.flip(store.insert({ ...info, status: "pending", startedAt: null }))
        yield* Fiber.join(update)
        assert.match(insert.message, /already exists/)
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(info.id)), info)
      }))

    test("a final state whose text holds U+0000 or half an emoji is stored (as U+FFFD where the database cannot hold it)", (store) =>
      Effect.gen(function*() {
        const info = record({ status: "running", startedAt: 1 })
        yield* store.insert(info)
        const cut = "gas 😀".slice(0, 5) // a message cut short in the middle of a surrogate pair
        const failed = {
          ...info,
          status: "failed" as const,
          reason: "error" as const,
          message: "decoding\u0000",
          error: { _tag: "Revert", data: "\u0000\u0001", cut },
          errorMessage: `reverted: \u0000\u0001 ${cut}`,
          finishedAt: 2
        }
        yield* store.update(failed)
        const stored = Option.getOrThrow(yield* store.get(info.id))
        // PostgreSQL's text cannot hold U+0000; neither database's text holds a lone surrogate. JSON columns keep both.
        const nul = name === "PostgreSQL" ? "\uFFFD" : "\u0000"
        assert.deepStrictEqual(stored, {
          ...failed,
          message: `decoding${nul}`,
          errorMessage: `reverted: ${nul}\u0001 gas \uFFFD`
        })
      }))

    test("a progress write never overwrites a finished record", (store) =>
      Effect.gen(function*() {
        const info = record({ status: "running", startedAt: 1 })
        yield* store.insert(info)
        yield* store.update({ ...info, status: "completed", progress: 100, finishedAt: 2, result: "done" })
        // A late report from the handler's fiber, raced past the completion.
        yield* store.updateProgress({ ...info, progress: 50, message: "stale" })
        yield* store.insert(record()) // anything still queued is written by now
        const stored = Option.getOrThrow(yield* store.get(info.id))
        assert.strictEqual(stored.status, "completed")
        assert.strictEqual(stored.progress, 100)
      }))

    test("a record removed right after a progress report stays removed", (store) =>
      Effect.gen(function*() {
        const info = record({ status: "running", startedAt: 1 })
        yield* store.insert(info)
        yield* store.updateProgress({ ...info, progress: 10 }) // acknowledged at once, still queued
        assert.isTrue(yield* store.remove(info.id))
        yield* store.insert(record()) // anything still queued is written by now
        assert.isTrue(Option.isNone(yield* store.get(info.id)))
      }))
  })

/** A tracer (provide it as `Tracer.Tracer`) recording in `statements` the text of every SQL statement run under it. */
const statementRecorder = () => {
  const statements: Array<string> = []
  const transactions = { count: 0 }
  const tracer = Tracer.make({
    span(options) {
      if (options.name === "sql.transaction") transactions.count++
      const span = Tracer.nativeTracer.span(options)
      const attribute = span.attribute.bind(span)
      span.attribute = (key, value) => {
        if (key === "db.query.text") statements.push(String(value))
        attribute(key, value)
      }
      return span
    }
  })
  return { statements, transactions, tracer }
}

/**
 * True for a PostgreSQL batch statement whose new records go checked (`ON
 * CONFLICT DO NOTHING`, answering the ids stored): the clauses keeping the
 * unfinished ids in step have conflict clauses of their own, but no
 * `RETURNING`.
 */
const checksInserts = (text: string) => text.includes("DO NOTHING RETURNING")

/** Which part of a batch a PostgreSQL statement written apart (in a transaction) writes, else its first word. */
const partWritten = (text: string) =>
  !text.startsWith("WITH written AS") ? text.split(" ", 1)[0] :
    checksInserts(text) ? "inserts" :
    text.includes(".status NOT IN ('completed'") ? "progress" :
    "updates"

/** Records whose JSON fields hold JSON values. */
const JsonRecord = Schema.Struct({
  ...TaskInfo.TaskInfo.fields,
  detail: Schema.NullOr(Schema.Struct({ step: Schema.String })),
  payload: Schema.Struct({ n: Schema.Number, to: Schema.String }),
  result: Schema.NullOr(Schema.Array(Schema.Number)),
  error: Schema.NullOr(Schema.String),
  checkpoint: Schema.NullOr(Schema.Struct({ block: Schema.Number }))
})

describe("rows", () => {
  it.prop("the parameters PostgreSQL receives hold, column by column, the values SQLite's parameters hold", [Schema.NonEmptyArray(JsonRecord)], ([generated]) => {
    // Times in whole milliseconds, as the runtime writes them (a fraction does not fit an int8 column).
    const whole = (millis: number | null) => millis === null ? null : Math.trunc(millis)
    const infos = generated.map((info) => ({
      ...info,
      createdAt: Math.trunc(info.createdAt),
      startedAt: whole(info.startedAt),
      finishedAt: whole(info.finishedAt),
      heartbeatAt: whole(info.heartbeatAt),
      expiresAt: whole(info.expiresAt),
      ...(info.timeoutMillis === undefined ? {} : { timeoutMillis: Math.trunc(info.timeoutMillis) }),
      ...(info.heartbeatTimeoutMillis === undefined ? {} : { heartbeatTimeoutMillis: Math.trunc(info.heartbeatTimeoutMillis) })
    }))
    const { params, shape } = pgPart(infos)
    assert.strictEqual(params.length, columns.length)
    // A column that varies goes as an array, one value per row; one that does not, as its value alone.
    const rows = infos.map((_, n) => params.map((param, i) => (shape & (1 << i)) === 0 ? param.value : (param.value as ReadonlyArray<unknown>)[n]))
    // a number that is not finite goes as null (as JSON carries it), U+0000 as U+FFFD (text cannot hold it)
    const element = (value: string | number | null) =>
      typeof value === "string"
        ? value.replaceAll("\u0000", "\uFFFD")
        : typeof value === "number" && !Number.isFinite(value)
        ? null
        : value
    const expected = infos.map((info) => toValues(info).map(element))
    assert.deepStrictEqual(rows, expected)
    // Only the columns whose records hold different values go as arrays.
    const values = infos.map(toValues)
    const differ = columns.map((_, i) => values.some((row) => !Object.is(row[i], values[0][i])))
    assert.deepStrictEqual(columns.map((_, i) => (shape & (1 << i)) !== 0), differ)
  })

  // The case the property once shrank to (replay `[0,"-180085458580905",4,0,[0,1,0,0,0,0,0],"PropertyError"]`, when
  // it and pgPart compared with `!==`): NaN is not `!==` itself, 0 is `===` -0; a column "varies" by `Object.is`.
  it("a column holding NaN in every row goes as one value, and 0 beside -0 as an array that keeps the sign", () => {
    const priority = columns.indexOf("priority")
    const progress = columns.indexOf("progress")
    const [a, b] = [record({ priority: Number.NaN, progress: 0 }), record({ priority: Number.NaN, progress: -0 })]
    const { params, shape } = pgPart([a, b])
    assert.strictEqual(shape & (1 << priority), 0, "a NaN in every row was sent as an array")
    assert.strictEqual(params[priority].value, null)
    assert.notStrictEqual(shape & (1 << progress), 0, "-0 beside 0 was sent as one value")
    assert.isTrue(Object.is((params[progress].value as ReadonlyArray<number>)[1], -0))
    assert.strictEqual(pgPart([a]).shape, 0)
  })
})

describe("SQLite rows", () => {
  it.prop("a multi-row statement's parameters are each record's column values in turn", [Schema.Array(JsonRecord)], ([infos]) => {
    assert.deepStrictEqual(rowsValues(infos), infos.flatMap(toValues))
  })
})

describe("statement shapes", () => {
  it.prop(
    "a batch of any size is written in statements of a few fixed row counts, powers of two up to 512",
    [Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 20_000 }))],
    ([count]) => {
      const sizes = sizeClasses(count)
      assert.strictEqual(sizes.reduce((sum, size) => sum + size, 0), count)
      for (const size of sizes) assert.isTrue(size <= 512 && Number.isInteger(Math.log2(size)), `${size} rows`)
      // Full statements first, then one of each smaller size at most.
      const rest = sizes.filter((size) => size < 512)
      assert.deepStrictEqual(rest, [...new Set(rest)].sort((a, b) => b - a))
    }
  )
})

for (const worker of [false, true]) {
  it.effect(`on SQLite${worker ? " on a worker thread" : ""}, a batch's statements reach the database in one call`, () =>
    Effect.gen(function*() {
      const file = yield* tempDatabaseFile
      const { statements, tracer, transactions } = statementRecorder()
      const running = Array.from({ length: 700 }, (_, n) => record({ status: "running", startedAt: n }))
      const read = yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        statements.length = 0
        transactions.count = 0
        assert.deepStrictEqual(yield* store.insertAll!(running), Array(700).fill(undefined))
        return yield* Effect.forEach([running[0], running[699]], (info) => store.get(info.id))
      }).pipe(
        Effect.provide(SqlTaskStore.layerSqlite({ filename: file, worker }), { local: true }),
        Effect.provideService(Tracer.Tracer, tracer)
      )
      // One transaction, its statements (512, 128, 32, 16, 8 and 4 rows) sent with it: no statement of their own.
      assert.strictEqual(transactions.count, 1)
      assert.deepStrictEqual(statements.map((text) => text.split(" ", 1)[0]), ["SELECT", "SELECT"])
      assert.deepStrictEqual(read.map(Option.getOrThrow), [running[0], running[699]])
    }))
}

storeConformance("sqlite file", sqliteStore(false))
storeConformance("sqlite file on a worker thread", sqliteStore(true))
beyondConformance("a SQLite file", sqliteStore(false))

describe.skipIf(pgTestUrl === undefined)("PostgreSQL", () => {
  storeConformance("postgresql", pgTestStore)
  storeConformance("postgresql, 4 batches in flight", Layer.unwrap(Effect.map(pgTestSchema, (schema) => pgStoreIn(schema, { batchesInFlight: 4 }))))
  beyondConformance("PostgreSQL", pgTestStore)

  it.effect("a batch's new records and its state changes are one statement, whatever their number", () =>
    Effect.gen(function*() {
      const schema = yield* pgTestSchemaNamed("store_statements")
      const { statements, tracer } = statementRecorder()
      const running = Array.from({ length: 1000 }, (_, n) => record({ status: "running", startedAt: n }))
      const done = running.map((info) => ({ ...info, status: "completed" as const, result: { n: info.startedAt }, finishedAt: 5 }))
      const read = yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        statements.length = 0
        assert.deepStrictEqual(yield* store.insertAll!(running), Array(1000).fill(undefined))
        assert.deepStrictEqual(yield* store.updateAll!(done), Array(1000).fill(undefined))
        return yield* Effect.forEach([done[0], done[511], done[999]], (info) => store.get(info.id))
      }).pipe(Effect.provide(pgStoreIn(schema), { local: true }), Effect.provideService(Tracer.Tracer, tracer))
      // In 512, 256, 128, 64, 32 and 8 rows, they took six statements each; in a transaction of their own, four.
      assert.deepStrictEqual(statements.map((text) => text.split(" ", 1)[0]), ["WITH", "WITH", "SELECT", "SELECT", "SELECT"])
      assert.deepStrictEqual(read.map(Option.getOrThrow), [done[0], done[511], done[999]])
    }))

  it.effect("new records go as a plain INSERT; a batch meeting an existing id is written again, refusing only that id", () =>
    Effect.gen(function*() {
      const schema = yield* pgTestSchemaNamed("store_plain_insert")
      const { statements, tracer } = statementRecorder()
      const [first, fresh, other] = [record(), record(), record({ status: "running", startedAt: 1 })]
      const otherDone = { ...other, status: "completed" as const, finishedAt: 2, result: "done" }
      const read = yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        yield* store.insert(other)
        statements.length = 0
        yield* store.insert(first)
        const plain = statements.splice(0)
        // One batch: `first` again, a new record and a state change of another task.
        const results = yield* Effect.all([
          Effect.flip(store.insert({ ...first, payload: "second" })),
          store.insert(fresh),
          store.update(otherDone)
        ], { concurrency: "unbounded" })
        assert.match(results[0].message, /already exists/)
        return { plain, results: yield* Effect.forEach([first, fresh, other], (info) => store.get(info.id)) }
      }).pipe(Effect.provide(pgStoreIn(schema), { local: true }), Effect.provideService(Tracer.Tracer, tracer))
      assert.deepStrictEqual(read.plain.map((text) => text.includes("ON CONFLICT")), [false])
      // The plain statement failed on `first` and stored nothing; then the batch again, checked, as one statement.
      assert.deepStrictEqual(statements.filter((text) => text.startsWith("WITH")).map(checksInserts), [false, true])
      assert.deepStrictEqual(read.results.map(Option.getOrNull), [first, fresh, otherDone])
    }))

  it.effect("new records go with ON CONFLICT DO NOTHING while more than a sixth of recent batches met an existing id, plain again after", () =>
    Effect.gen(function*() {
      const schema = yield* pgTestSchemaNamed("store_insert_policy")
      const { statements, tracer } = statementRecorder()
      const [first, ...fresh] = Array.from({ length: 9 }, () => record())
      const again = { ...first, payload: "again" }
      const read = yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        const refused: Array<TaskError.TaskStoreError> = []
        const sent: Array<Array<boolean>> = []
        const step = <A, E>(write: Effect.Effect<A, E>) =>
          Effect.gen(function*() {
            statements.length = 0
            const exit = yield* Effect.exit(write)
            if (Exit.isFailure(exit)) refused.push(Cause.squash(exit.cause) as TaskError.TaskStoreError)
            sent.push(statements.filter((text) => text.startsWith("WITH")).map(checksInserts))
          })
        yield* step(store.insert(first))
        yield* step(store.insert(again)) // a lone duplicate: the share, 1/8, stays under 1/6
        yield* step(store.insert(fresh[0]))
        yield* step(store.insert(again)) // a second one soon after: over 1/6
        yield* step(store.insert(fresh[1]))
        yield* step(store.insert(again)) // met by a checked insert: no failed plain statement
        for (const info of fresh.slice(2)) yield* step(store.insert(info)) // the share falls back under 1/6
        return { refused, sent, stored: yield* Effect.forEach([first, ...fresh], (info) => store.get(info.id)) }
      }).pipe(Effect.provide(pgStoreIn(schema), { local: true }), Effect.provideService(Tracer.Tracer, tracer))
      // Each write's statements, true where the inserts were checked: a plain one meeting an existing id is followed by a checked one.
      assert.deepStrictEqual(read.sent, [
        [false],
        [false, true],
        [false],
        [false, true],
        [true],
        [true],
        [true],
        [true],
        [true],
        [true],
        [true],
        [false]
      ])
      assert.deepStrictEqual(read.refused.map((error) => /already exists/.test(error.message)), [true, true, true])
      assert.deepStrictEqual(read.stored.map(Option.getOrNull), [first, ...fresh])
    }))

  it.effect("a batch failing on a bad record counts once in the insert policy, not once per piece written apart", () =>
    Effect.gen(function*() {
      const schema = yield* pgTestSchemaNamed("store_policy_apart")
      const { statements, tracer } = statementRecorder()
      const first = record()
      // Sixteen new records, one with a time that does not store: written apart, about 2·log2(16) pieces.
      const batch = Array.from({ length: 16 }, (_, i) => i === 5 ? record({ status: "running", startedAt: 1.5 }) : record())
      const sent = yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        yield* store.insert(first)
        yield* Effect.flip(store.insert({ ...first, payload: "again" })) // the share: 1/8, still plain
        yield* Effect.flip(store.insert({ ...first, payload: "again" })) // over 1/6: checked from here
        const results = yield* store.insertAll!(batch)
        assert.deepStrictEqual(results.map((error) => error?._tag), batch.map((_, i) => i === 5 ? "TaskStoreError" : undefined))
        statements.length = 0
        yield* store.insert(record())
        return statements.filter((text) => text.startsWith("WITH")).map(checksInserts)
      }).pipe(Effect.provide(pgStoreIn(schema), { local: true }), Effect.provideService(Tracer.Tracer, tracer))
      // One batch meeting no existing id after two that did leaves the share over 1/6; four pieces counted as batches took it under.
      assert.deepStrictEqual(sent, [true])
    }))

  it.effect("pgInserts: plain always tries the plain INSERT first, checked never does", () =>
    Effect.gen(function*() {
      const { statements, tracer } = statementRecorder()
      const sentWith = (pgInserts: "plain" | "checked") =>
        Effect.gen(function*() {
          const schema = yield* pgTestSchemaNamed(`store_inserts_${pgInserts}`)
          const first = record()
          yield* Effect.gen(function*() {
            const store = yield* TaskStore.TaskStore
            yield* store.insert(first)
            statements.length = 0
            for (let i = 0; i < 3; i++) yield* Effect.flip(store.insert({ ...first, payload: i }))
            yield* store.insert(record())
          }).pipe(Effect.provide(pgStoreIn(schema, { pgInserts }), { local: true }), Effect.provideService(Tracer.Tracer, tracer))
          return statements.filter((text) => text.startsWith("WITH")).map(checksInserts)
        })
      assert.deepStrictEqual(yield* sentWith("plain"), [false, true, false, true, false, true, false])
      assert.deepStrictEqual(yield* sentWith("checked"), [true, true, true, true])
    }))

  it.effect("adaptive logs once each time it turns: to checked with the share of duplicates, back to plain when it fell", () =>
    Effect.gen(function*() {
      const schema = yield* pgTestSchemaNamed("store_policy_log")
      const lines: Array<{ readonly message: string; readonly level: string; readonly share: unknown }> = []
      const capture = Logger.make(({ fiber, logLevel, message }) => {
        const text = String(Array.isArray(message) ? message[0] : message)
        if (text.startsWith("store-sql:")) lines.push({ message: text, level: logLevel, share: fiber.getRef(References.CurrentLogAnnotations).share })
      })
      const first = record()
      yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        yield* store.insert(first)
        yield* Effect.flip(store.insert({ ...first, payload: "again" })) // the share: 1/8, still plain
        yield* Effect.flip(store.insert({ ...first, payload: "again" })) // 15/64, over 1/6: checked
        yield* Effect.flip(store.insert({ ...first, payload: "again" })) // still checked: nothing more to say
        // each batch meeting no existing id takes the share down by 1/8: 0.330 × (7/8)^6 is under 1/6 at the sixth
        for (let i = 0; i < 8; i++) yield* store.insert(record())
      }).pipe(Effect.provide(pgStoreIn(schema), { local: true }), Effect.provide(Logger.layer([capture]), { local: true }))
      const shares = [15 / 64, (15 / 64 + (1 - 15 / 64) / 8) * (7 / 8) ** 6]
      assert.deepStrictEqual(lines.map((line) => [line.message, line.level]), [
        [`store-sql: PostgreSQL inserts now checked: ${(shares[0] * 100).toFixed(1)}% of recent batches met an existing id (at or over 16.7%)`, "Info"],
        [`store-sql: PostgreSQL inserts now plain: ${(shares[1] * 100).toFixed(1)}% of recent batches met an existing id (under 16.7%)`, "Info"]
      ])
      lines.forEach((line, i) => assert.closeTo(line.share as number, shares[i], 1e-9))
    }))

  it.effect("a time that is not a whole number fails its own record, not rounded, and the rest of its batch is stored", () =>
    Effect.gen(function*() {
      const schema = yield* pgTestSchemaNamed("store_not_whole")
      const [good, otherGood] = [record(), record()]
      const notWhole = record({ status: "running", startedAt: 1.5 })
      const read = yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        const results = yield* store.insertAll!([good, notWhole, otherGood])
        assert.deepStrictEqual(results.map((error) => error?._tag), [undefined, "TaskStoreError", undefined])
        return yield* Effect.forEach([good, notWhole, otherGood], (info) => store.get(info.id))
      }).pipe(Effect.provide(pgStoreIn(schema), { local: true }))
      assert.deepStrictEqual(read.map(Option.getOrNull), [good, null, otherGood])
    }))

  it.effect("a batch holding two writes of one id is written in a transaction, in order", () =>
    Effect.gen(function*() {
      const schema = yield* pgTestSchemaNamed("store_overlap")
      const { statements, tracer } = statementRecorder()
      const [fresh, running] = [record(), record({ status: "running", startedAt: 1 })]
      const freshDone = { ...fresh, status: "completed" as const, finishedAt: 2, result: "first" }
      const progressed = { ...running, progress: 40, message: "on its way" }
      const read = yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        yield* store.insert(running)
        statements.length = 0
        // One batch: an insert and a state change of `fresh`, a state change and progress of `running`.
        yield* Effect.all([
          store.insert(fresh),
          store.update(freshDone),
          store.update({ ...running, attempt: 2 }),
          store.updateProgress(progressed)
        ], { concurrency: "unbounded", discard: true })
        return yield* Effect.forEach([fresh, running], (info) => store.get(info.id))
      }).pipe(Effect.provide(pgStoreIn(schema), { local: true }), Effect.provideService(Tracer.Tracer, tracer))
      // The statements of a transaction, each part in its place: inserts, then state changes, then progress.
      assert.deepStrictEqual(statements.map(partWritten), ["inserts", "updates", "progress", "SELECT", "SELECT"])
      assert.deepStrictEqual(read.map(Option.getOrThrow), [freshDone, progressed])
    }))

  it.effect("the schema name is taken as it is: case, dots, commas and quotes", () =>
    Effect.gen(function*() {
      // Unquoted, `search_path` would read this as the schemas `odd.schema` and `public`.
      const schema = yield* pgTestSchemaNamed(`Odd.Schema, public "x"`)
      const info = record()
      yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        yield* store.insert(info)
      }).pipe(Effect.provide(pgStoreIn(schema), { local: true }))
      const stored = yield* onPgTestDatabase(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ id: string }>`SELECT id FROM ${sql.literal(quoted(schema))}.chainjobs_tasks`
      }))
      assert.deepStrictEqual(stored.map((row) => row.id), [info.id])
    }))

  it.effect("a role that may create tables only in its existing schema opens the store", () =>
    Effect.gen(function*() {
      const schema = yield* pgTestSchemaNamed("store_role")
      const role = `${schema}_role`
      yield* Effect.acquireRelease(
        onPgTestDatabase(Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`CREATE SCHEMA ${sql.literal(quoted(schema))}`
          yield* sql`CREATE ROLE ${sql.literal(quoted(role))} LOGIN PASSWORD 'store-role'`
          yield* sql`GRANT USAGE, CREATE ON SCHEMA ${sql.literal(quoted(schema))} TO ${sql.literal(quoted(role))}`
        })),
        () =>
          onPgTestDatabase(Effect.gen(function*() {
            const sql = yield* SqlClient.SqlClient
            yield* sql`DROP OWNED BY ${sql.literal(quoted(role))}`
            yield* sql`DROP ROLE ${sql.literal(quoted(role))}`
          })).pipe(Effect.orDie)
      )
      const url = new URL(pgTestUrl!)
      url.username = role
      url.password = "store-role"
      const info = record()
      const read = yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        yield* store.insert(info)
        return yield* store.get(info.id)
      }).pipe(
        Effect.provide(SqlTaskStore.layerPg({ url: Redacted.make(url.href), schema, maxConnections: 1 }), { local: true })
      )
      assert.deepStrictEqual(Option.getOrThrow(read), info)
    }))
})
reportSkipped("the store conformance suite and the tests of what the store promises beyond it")

/** Runs `body` with a store on `filename`, closing it afterwards. */
const withStore = <A, E>(filename: string, body: (store: TaskStore.TaskStore["Service"]) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const store = yield* TaskStore.TaskStore
    return yield* body(store)
  }).pipe(Effect.provide(SqlTaskStore.layerSqlite({ filename }), { local: true }))

describe("SqlTaskStore on a SQLite file, reopened", () => {
  it.effect("every acknowledged concurrent write is on disk after the file is closed and reopened", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabaseFile
      const all = Array.from({ length: 2_000 }, () => record())
      yield* withStore(file, (store) =>
        Effect.forEach(all, (info) =>
          Effect.andThen(
            store.insert(info),
            store.update({ ...info, status: "completed", finishedAt: 5, result: { id: info.id } })
          ), { concurrency: "unbounded", discard: true }))
      const page = yield* withStore(file, (store) => store.list({ status: ["completed"], limit: 1000 }))
      const rest = yield* withStore(file, (store) => store.list({ limit: 1000, cursor: page.nextCursor! }))
      const stored = [...page.items, ...rest.items]
      assert.strictEqual(stored.length, all.length)
      for (const info of stored) assert.deepStrictEqual(info.result, { id: info.id })
    }))

  it.effect("a bad record in a big batch is found by halves, not by writing every record alone", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabaseFile
      const transactions = transactionCounter()
      const all = Array.from({ length: 1024 }, (_, n) => n === 700 ? record({ payload: { amount: 1n } }) : record())
      const exits = yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        transactions.count = 0
        return yield* Effect.forEach(all, (info) => Effect.exit(store.insert(info)), { concurrency: "unbounded" })
      }).pipe(
        // One batch: the writer waits until all 1,024 are queued.
        Effect.provide(SqlTaskStore.layerSqlite({ filename: file, flushInterval: "1 hour", maxBatchSize: all.length }), {
          local: true
        }),
        Effect.provideService(Tracer.Tracer, transactions.tracer)
      )
      assert.deepStrictEqual(exits.flatMap((exit, n) => Exit.isFailure(exit) ? [n] : []), [700])
      // Two halves for each of ten levels; a half holding the record that does not encode fails before its
      // transaction begins, so the ten good halves commit one each: 10. One by one it took 1,023.
      assert.strictEqual(transactions.count, 10)
      const stored = yield* withStore(file, (store) => store.list({ limit: 1000 }))
      assert.strictEqual(stored.items.length, 1000)
    }))

  it.effect("queued progress reaches the file when the store closes", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabaseFile
      const info = record({ status: "running", startedAt: 1 })
      yield* withStore(file, (store) =>
        Effect.andThen(store.insert(info), store.updateProgress({ ...info, progress: 30, message: "a third" })))
      const stored = Option.getOrThrow(yield* withStore(file, (store) => store.get(info.id)))
      assert.strictEqual(stored.progress, 30)
      assert.strictEqual(stored.message, "a third")
    }))

  it.effect("the config-driven layer opens the file the configuration names", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabaseFile
      const info = record()
      yield* withStore(file, (store) => store.insert(info))
      const read = yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        return yield* store.get(info.id)
      }).pipe(
        Effect.provide(SqlTaskStore.layerSqliteConfig({ filename: Config.String("TASKS_DB") }), { local: true }),
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromUnknown({ TASKS_DB: file }))
      )
      assert.deepStrictEqual(Option.getOrThrow(read), info)
    }))

  it.effect("unfinished records are there for recovery after a restart", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabaseFile
      const pending = record()
      const running = record({ status: "running", startedAt: 1, checkpoint: { block: 42 } })
      const done = record({ status: "completed", finishedAt: 2 })
      yield* withStore(file, (store) => Effect.forEach([pending, running, done], store.insert, { discard: true }))
      const unfinished = yield* withStore(file, (store) => store.unfinished)
      assert.deepStrictEqual(unfinished, [pending, running])
    }))
})
