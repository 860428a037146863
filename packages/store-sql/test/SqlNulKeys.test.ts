/**
 * Keys holding U+0000 or other control characters are answered as the
 * stored records say, on both stores. SQLite keeps U+0000 in an id, a kind or
 * an owner and finds the record by it. PostgreSQL's text cannot hold U+0000
 * (a query binding one fails, SQLSTATE 22021; a record's U+0000 is stored as
 * U+FFFD), so there a key holding one matches no row, answered without a
 * query: an id is not found and not removed, a kind or an owner filters every
 * row out, a cursor pages as on SQLite (the ids before it, byte by byte). A schedule name holding one is not removed, and
 * `PersistedSchedules` refuses to declare a name holding any control
 * character, storing nothing.
 */
import { AddLive, supervisor } from "@chainjobs/tasks/test/fixtures"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { PersistedSchedules, ScheduleStore, type TaskInfo, TaskQuery, TaskStore } from "@chainjobs/tasks"
import { assert, describe, layer } from "@effect/vitest"
import { Arbitrary, Effect, Layer, Option, Schema } from "effect"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import { pgTestStore, pgTestUrl, reportSkipped } from "./pgTestDatabase.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"

reportSkipped("the keys holding U+0000")

/**
 * The records: two kinds, two owners and none, ids in creation order, and one
 * whose id, kind and owner hold U+0000 (SQLite keeps it; PostgreSQL stores
 * U+FFFD in its place).
 */
const seed: ReadonlyArray<TaskInfo.TaskInfo> = [
  ...Array.from({ length: 7 }, (_, n) => record({ kind: n % 3 === 0 ? "scan" : "noop", owner: n % 2 === 0 ? "alice" : n === 3 ? null : "bob" })),
  ((info) => ({ ...info, id: `${info.id}\u0000x`, kind: "sc\u0000an", owner: "al\u0000ice" }))(record())
]

/** A schedule stored before the hostile names are tried. */
const stored: ScheduleStore.StoredSchedule = { name: "a", kind: "add", payload: { a: 1, b: 2 }, trigger: { _tag: "Daemon" }, createdAt: 1 }

/**
 * A key: a stored id, a kind or an owner cut anywhere, followed by a few
 * characters among U+0000, other control characters and plain ones (none
 * at all leaves the stored value, which must match).
 */
const key = Arbitrary.map(
  Arbitrary.schema(Schema.Tuple([
    Schema.Literals([...seed.map((info) => info.id), "scan", "noop", "alice", "bob", "sc\u0000an", "al\u0000ice", ""]),
    Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 50 })),
    Schema.Array(Schema.Literals(["\u0000", "\u0000", "\u0001", "\u001b", "\u007f", "\u0085", "\uFFFD", "0", "7", "-", "a", "é"])).check(
      Schema.isMaxLength(4)
    )
  ])),
  ([start, cut, tail]) => start.slice(0, cut) + tail.join("")
)

/** A control character: U+0000, a line break, an escape, DEL, the last C1 one. */
const control = Arbitrary.schema(Schema.Literals(["\u0000", "\n", "\u001b", "\u007f", "\u009f"]))

/** The store with `seed` inserted and `stored` declared. */
const seeded = <E>(store: Layer.Layer<TaskStore.TaskStore | ScheduleStore.ScheduleStore, E>) =>
  Layer.effectDiscard(Effect.gen(function*() {
    const tasks = yield* TaskStore.TaskStore
    for (const info of seed) yield* tasks.insert(info)
    yield* (yield* ScheduleStore.ScheduleStore).put(stored)
  })).pipe(Layer.provideMerge(store))

/** The keys of a record as `kept` (how the store keeps text) stores them. */
const storedKeys = (kept: (text: string) => string) => (info: TaskInfo.TaskInfo): TaskInfo.TaskInfo => ({
  ...info,
  id: kept(info.id),
  kind: kept(info.kind),
  owner: info.owner === null ? null : kept(info.owner)
})

const sameKeys = (
  name: string,
  store: Layer.Layer<TaskStore.TaskStore | ScheduleStore.ScheduleStore, unknown>,
  kept: (text: string) => string
) =>
  layer(seeded(store), { excludeTestServices: true, timeout: "60 seconds" })(name, (it) => {
    const records = seed.map(storedKeys(kept))
    /** The ids, last first, as pages list them. */
    const idsDescending = records.map((info) => info.id).sort().reverse()
    const byIdOf = (id: string) => records.find((info) => info.id === id)!

    /** Every read by `text` answers as `records` say, and nothing changes. */
    const answersAsRecords = (text: string) =>
      Effect.gen(function*() {
        const tasks = yield* TaskStore.TaskStore
        const byId = records.find((info) => info.id === text)
        assert.deepStrictEqual(yield* tasks.get(text), Option.fromNullishOr(byId))
        if (byId === undefined) assert.isFalse(yield* tasks.remove(text))

        const before = idsDescending.filter((id) => id < text)
        const page = yield* tasks.list({ cursor: text, limit: 2 })
        assert.deepStrictEqual(page.items.map((info) => info.id), before.slice(0, 2))
        assert.strictEqual(page.nextCursor, before.length > 2 ? before[1] : null)

        const ofKind = (kinds: ReadonlyArray<string>) => idsDescending.filter((id) => kinds.includes(byIdOf(id).kind))
        for (const kinds of [[text], [text, "scan"], ["noop", text]]) {
          assert.deepStrictEqual((yield* tasks.list({ kind: kinds })).items.map((info) => info.id), ofKind(kinds))
          assert.strictEqual((yield* tasks.count({ kind: kinds })).pending, ofKind(kinds).length)
        }
        const owned = idsDescending.filter((id) => byIdOf(id).owner === text)
        assert.deepStrictEqual((yield* tasks.list({ owner: text, kind: ["noop", "scan", kept("sc\u0000an")] })).items.map((info) => info.id), owned)
        assert.strictEqual((yield* tasks.count({ owner: text })).pending, owned.length)

        const schedules = yield* ScheduleStore.ScheduleStore
        if (text !== stored.name) assert.isFalse(yield* schedules.remove(text))
        assert.deepStrictEqual(yield* schedules.list, [stored])
        assert.deepStrictEqual((yield* tasks.list({ limit: TaskQuery.maxLimit })).items.map((info) => info.id), idsDescending)
      })

    it.effect.prop("an id, a cursor, a kind or an owner holding any characters is answered as by the records, nothing changes", [key], ([text]) =>
      answersAsRecords(text), { timeout: 60_000, arbitrary: { runs: 60 } })

    // On a store of its own, built inside the test: a mutation run switches its mutant on only once a test starts,
    // after the layer above was built, so this test is what sees the choices made when a store is built.
    it.effect("a cursor of a stored id and U+0000 after it pages from that id on, as every key of a stored value and U+0000", () =>
      Effect.forEach(
        [...seed.map((info) => info.id), "scan", "alice", "sc\u0000an", "al\u0000ice"].flatMap((value) => [
          value,
          `${value}\u0000`,
          `${value}\u0000z`,
          `\u0000${value}`
        ]),
        answersAsRecords,
        { discard: true }
      ).pipe(Effect.provide(seeded(store), { local: true })), 60_000)

    it.effect.prop("a schedule name holding a control character is refused at declare, nothing stored", [key, control], ([text, character]) =>
      Effect.gen(function*() {
        const name = `s${text}${character}`
        const refused = yield* Effect.flip(
          Effect.flatMap(PersistedSchedules.PersistedSchedules, (schedules) =>
            schedules.declare({ name, kind: "add", payload: { a: 1, b: 2 }, trigger: { _tag: "Daemon" } })).pipe(
              Effect.provide(PersistedSchedules.layer.pipe(Layer.provide(supervisor(AddLive))), { local: true })
            )
        )
        assert.strictEqual(refused._tag, "InvalidSchedule")
        assert.strictEqual(refused._tag === "InvalidSchedule" ? refused.reason : undefined, "name")
        assert.deepStrictEqual(yield* (yield* ScheduleStore.ScheduleStore).list, [stored])
      }), { timeout: 60_000, arbitrary: { runs: 20 } })
  })

describe("SqlTaskStore keys holding U+0000", () => {
  sameKeys("SQLite", Layer.unwrap(Effect.map(tempDatabaseFile, (filename) => SqlTaskStore.layerSqlite({ filename }))), (text) => text)
  if (pgTestUrl !== undefined) sameKeys("PostgreSQL", pgTestStore, (text) => text.replaceAll("\u0000", "\uFFFD"))
})
