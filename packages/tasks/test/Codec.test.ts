/**
 * The supervisor's Schema glue (`internal/codec.ts`): which object a task
 * holds as its payload (one for both forms only when they are the same plain
 * values), every bad field of a payload named, and the message of a typed
 * error that is no `Error`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Option, Schema, SchemaTransformation } from "effect"
import { interchangeable } from "../src/internal/codec.ts"
import * as Task from "../src/Task.ts"
import type { InvalidPayload } from "../src/TaskError.ts"
import * as TaskStore from "../src/TaskStore.ts"
import * as Tasks from "../src/Tasks.ts"
import { supervisor } from "./fixtures.ts"

/** A plain record of JSON values, as a payload's encoded form is. */
const Plain = Schema.Record(
  Schema.String.check(Schema.isPattern(/^[a-z]{1,6}$/)),
  Schema.Union([Schema.Int, Schema.String, Schema.Boolean, Schema.Null])
)

describe("interchangeable", () => {
  it.prop(
    "a plain object or array and a copy holding the very same values are interchangeable; one value, key or prototype different is not",
    { record: Plain, values: Schema.Array(Schema.Union([Schema.Int, Schema.String])) },
    ({ record: generated, values: generatedValues }) => {
      // plain copies: the generator may make objects without a prototype
      const record = { ...generated }
      const values = [...generatedValues]
      assert.isTrue(interchangeable(record, { ...record }))
      assert.isTrue(interchangeable(values, [...values]))
      assert.isTrue(interchangeable(record, record))
      // a key more on either side
      assert.isFalse(interchangeable(record, { ...record, "extra key": 1 }))
      assert.isFalse(interchangeable({ ...record, "extra key": 1 }, record))
      assert.isFalse(interchangeable(values, [...values, 0]))
      // one value different (a transformed field: a Date and its ISO string)
      const keys = Object.keys(record)
      if (keys.length > 0) {
        assert.isFalse(interchangeable({ ...record, [keys[0]]: new Date(0) }, { ...record, [keys[0]]: new Date(0).toISOString() }))
      }
      // an object of a class (a Schema.Class payload) and its plain encoding
      class Point {}
      const instance = Object.assign(Object.create(Point.prototype) as object, record)
      assert.isFalse(interchangeable(instance, { ...record }))
      // an array and an object with the same keys and values
      assert.isFalse(interchangeable(values, Object.assign({}, values)))
      assert.isFalse(interchangeable(Object.assign({}, values), values))
    }
  )

  it("values that are not plain objects or arrays are interchangeable only when identical", () => {
    assert.isTrue(interchangeable(1, 1))
    assert.isTrue(interchangeable("a", "a"))
    assert.isTrue(interchangeable(null, null))
    assert.isFalse(interchangeable(1, "1"))
    assert.isFalse(interchangeable(null, {}))
    assert.isFalse(interchangeable({}, null))
    assert.isFalse(interchangeable(undefined, {}))
    assert.isFalse(interchangeable("{}", {}))
    assert.isFalse(interchangeable({}, "{}"))
    assert.isFalse(interchangeable(new Date(0), {}))
    // objects that are not plain, even of one class and without keys of their own
    assert.isFalse(interchangeable(new Date(0), new Date(1)))
    assert.isFalse(interchangeable(new Map([[1, 2]]), new Map()))
  })
})

/** A payload of a class, whose handler calls its method: it must get the instance, not its plain encoding. */
class Span extends Schema.Class<Span>("Span")({ from: Schema.Number, to: Schema.Number }) {
  get length() {
    return this.to - this.from
  }
}
const Measure = Task.define("measure", { payload: Span, success: Schema.Number })
const MeasureLive = Task.implement(Measure, (span) => Effect.sync(() => span.length))

/** Two fields, both checked. */
const Pair = Task.define("pair", { payload: Schema.Struct({ a: Schema.Number, b: Schema.String }), success: Schema.Void })
const PairLive = Task.implement(Pair, () => Effect.void)

/** Fails with a plain string as its typed error. */
const Refuse = Task.define("refuse", { payload: Schema.Struct({ why: Schema.String }), success: Schema.Void, error: Schema.String })
const RefuseLive = Task.implement(Refuse, ({ why }) => Effect.fail(why))

/** A result stored as null and decoded to a fresh, mutable object: each task's caller must get one of its own. */
const Tally = Task.define("tally", {
  payload: Schema.Struct({ n: Schema.Number }),
  success: Schema.Null.pipe(Schema.decodeTo(
    Schema.Struct({ items: Schema.mutable(Schema.Array(Schema.Number)) }),
    SchemaTransformation.transform({ decode: (): { items: Array<number> } => ({ items: [] }), encode: () => null })
  ))
})
const TallyLive = Task.implement(Tally, () => Effect.succeed({ items: [] }))

const layer = supervisor(Layer.mergeAll(MeasureLive, PairLive, RefuseLive, TallyLive))

const refusal = (exit: Exit.Exit<unknown, unknown>) => {
  assert.isTrue(Exit.isFailure(exit))
  const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  return reason?._tag === "Fail" ? reason.error as InvalidPayload : assert.fail("not refused")
}

describe("payloads and errors through the supervisor", () => {
  it.effect("a task whose payload is a class instance runs with the instance, submitted typed or encoded", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      assert.strictEqual(yield* tasks.run(Measure, new Span({ from: 3, to: 10 })), 7)
      const handle = yield* tasks.submitEncoded("measure", { from: 1, to: 5 })
      assert.strictEqual(yield* handle.join, 4)
    }).pipe(Effect.provide(layer)))

  it.effect("every bad field of a payload is named, submitted typed or encoded", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const typed = refusal(yield* Effect.exit(tasks.submit(Pair, { a: "one", b: 2 } as never)))
      assert.deepStrictEqual(typed.issues.map((issue) => issue.path).sort(), [["a"], ["b"]])
      const encoded = refusal(yield* Effect.exit(tasks.submitEncoded("pair", { a: "one", b: 2 })))
      assert.deepStrictEqual(encoded.issues.map((issue) => issue.path).sort(), [["a"], ["b"]])
      assert.include(encoded.message, "a: ")
      assert.include(encoded.message, "b: ")
      // nothing was recorded
      assert.deepStrictEqual((yield* tasks.list({})).items, [])
    }).pipe(Effect.provide(layer)))

  it.effect("a result decoded from null into an object is each task's own; a void result is undefined every time", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const results = yield* Effect.forEach([1, 2, 3], (n) => tasks.run(Tally, { n }))
      assert.deepStrictEqual(results, [{ items: [] }, { items: [] }, { items: [] }])
      results[0].items.push(1)
      assert.notStrictEqual(results[0], results[1])
      assert.notStrictEqual(results[1], results[2])
      assert.deepStrictEqual(results[1].items, [])
      const handles = yield* tasks.submitAll(Pair, [{ a: 1, b: "x" }, { a: 2, b: "y" }])
      for (const handle of handles) assert.isUndefined(yield* handle.join)
      assert.deepStrictEqual((yield* tasks.run(Tally, { n: 4 })).items, [])
    }).pipe(Effect.provide(layer)))

  it.effect("a typed error that is a plain string is recorded as the error and as its message", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const store = yield* TaskStore.TaskStore
      const handle = yield* tasks.submit(Refuse, { why: "not today" })
      assert.deepStrictEqual(yield* Effect.flip(handle.join), "not today")
      const info = Option.getOrThrow(yield* store.get(handle.id))
      assert.deepStrictEqual([info.status, info.reason, info.error, info.errorMessage], ["failed", "error", "not today", "not today"])
    }).pipe(Effect.provide(layer)))
})
