/**
 * Any text a task's message may carry is stored, whatever its code units:
 * U+0000 and lone surrogates (bytes decoded as text, a message cut in the
 * middle of an emoji) alone or together. PostgreSQL's text holds neither, so
 * there they read back as U+FFFD; SQLite keeps U+0000 and turns a lone
 * surrogate into U+FFFD. A JSON column keeps the text exactly.
 */
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { TaskStore } from "@chainjobs/tasks"
import { assert, describe, layer } from "@effect/vitest"
import { Arbitrary, Effect, Layer, Option, Schema } from "effect"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import { pgTestStore, pgTestUrl, reportSkipped } from "./pgTestDatabase.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"

reportSkipped("the text round trip")

/** Text of a few code units from a small alphabet: plain, accented, an emoji, U+0000, each half of a surrogate pair. */
const awkwardText = Arbitrary.map(
  Arbitrary.array(Arbitrary.schema(Schema.Literals(["a", " ", "é", "😀", "\u0000", "\ud83d", "\ude00", "\udbff"])), {
    maxLength: 8
  }),
  (units) => units.join("")
)

const roundTrip = (name: string, store: Layer.Layer<TaskStore.TaskStore, unknown>, stored: (text: string) => string) =>
  layer(store, { excludeTestServices: true, timeout: "60 seconds" })(name, (it) => {
    it.effect.prop("a message and an error message of any text are stored; the payload keeps it exactly", [awkwardText], ([text]) =>
      Effect.gen(function*() {
        const tasks = yield* TaskStore.TaskStore
        const info = record({ message: text, payload: { text } })
        yield* tasks.insert(info)
        const failed = { ...info, status: "failed" as const, reason: "error" as const, errorMessage: text, finishedAt: 2 }
        yield* tasks.update(failed)
        const read = Option.getOrThrow(yield* tasks.get(info.id))
        assert.deepStrictEqual(read, { ...failed, message: stored(text), errorMessage: stored(text) })
      }), { timeout: 60_000, arbitrary: { runs: 40 } })
  })

describe("SqlTaskStore text round trip", () => {
  roundTrip(
    "SQLite",
    Layer.unwrap(Effect.map(tempDatabaseFile, (filename) => SqlTaskStore.layerSqlite({ filename }))),
    (text) => text.toWellFormed()
  )
  if (pgTestUrl !== undefined) roundTrip("PostgreSQL", pgTestStore, (text) => text.toWellFormed().replaceAll("\u0000", "\uFFFD"))
})
