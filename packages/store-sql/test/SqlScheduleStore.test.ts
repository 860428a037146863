/**
 * The schedule store on SQLite (a file, opened again as by a restarted
 * process) and on PostgreSQL (a fresh schema): declarations read back as
 * stored, a name declared again replaces its declaration, removal answers
 * whether there was one (a name holding U+0000 never was).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ScheduleStore } from "@chainjobs/tasks"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import { pgStoreIn, pgTestSchema, pgTestUrl, reportSkipped } from "./pgTestDatabase.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"

reportSkipped("the schedule store")

const declarations: ReadonlyArray<ScheduleStore.StoredSchedule> = [
  { name: "b-hourly", kind: "scan", payload: { from: 1, to: [2, 3] }, trigger: { _tag: "Cron", cron: "0 0 * * * *" }, createdAt: 1 },
  { name: "a-minute", kind: "noop", payload: null, trigger: { _tag: "Interval", millis: 60_000 }, createdAt: 2 },
  { name: "c-keeper", kind: "follow", payload: { chain: "dev" }, trigger: { _tag: "Daemon" }, createdAt: 3 }
]

/** Stores, replaces and removes through one store, then reads through `reopened` (a second opening of the same database). */
const roundTrip = <E>(open: Layer.Layer<ScheduleStore.ScheduleStore, E>) =>
  Effect.gen(function*() {
    yield* Effect.gen(function*() {
      const store = yield* ScheduleStore.ScheduleStore
      for (const declaration of declarations) yield* store.put(declaration)
      yield* store.put({ ...declarations[1], trigger: { _tag: "Interval", millis: 5_000 }, createdAt: 4 })
      // A name holding U+0000 is no stored name: not removed, on PostgreSQL without the query it would refuse.
      assert.isFalse(yield* store.remove("c-keeper\u0000"))
      assert.isTrue(yield* store.remove("c-keeper"))
      assert.isFalse(yield* store.remove("c-keeper"))
    }).pipe(Effect.provide(open, { local: true }))
    const read = yield* Effect.provide(Effect.flatMap(ScheduleStore.ScheduleStore, (store) => store.list), open, { local: true })
    assert.deepStrictEqual(read, [
      { ...declarations[1], trigger: { _tag: "Interval", millis: 5_000 }, createdAt: 4 },
      declarations[0]
    ])
  })

describe("SqlScheduleStore", () => {
  it.effect("on SQLite: declarations survive reopening the file, replaced by name, removed once", () =>
    Effect.flatMap(tempDatabaseFile, (filename) => roundTrip(SqlTaskStore.layerSqlite({ filename }))).pipe(Effect.scoped))

  it.effect.skipIf(pgTestUrl === undefined)("on PostgreSQL: the same, in a fresh schema", () =>
    Effect.flatMap(pgTestSchema, (schema) => roundTrip(pgStoreIn(schema))).pipe(Effect.scoped), 30_000)
})
