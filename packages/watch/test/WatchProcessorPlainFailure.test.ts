/**
 * Processors whose handler ends otherwise than with a value or an `Error`, on
 * a real Hardhat node and SQLite files, the watcher driven by `poll`: an
 * error that is no `Error` (its error Schema a plain string) is recorded as
 * the item's failure with that value as its message, as an `Error`'s message
 * would be; a handler that is interrupted records nothing — the item stays
 * submitted until the watcher settles it from the task's record ("task
 * interrupted"). Processing is awaited through the task's record.
 */
import { Tasks } from "@chainjobs/tasks"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import * as Watchers from "../src/Watchers.ts"
import * as WatchItem from "../src/WatchItem.ts"
import * as WatchProcessor from "../src/WatchProcessor.ts"
import { address, pollTransfer, sharedRuntime } from "./fixtures.ts"

/** A processor failing every item with a plain string. */
const Plain = WatchProcessor.define("test.plain-failure", { error: Schema.String })

/** A processor whose handler interrupts itself. */
const Interrupted = WatchProcessor.define("test.interrupted")

const runtime = Layer.mergeAll(
  WatchProcessor.implement(Plain, (item) => Effect.fail(`no ${WatchItem.id(item)}`)),
  WatchProcessor.implement(Interrupted, () => Effect.interrupt)
).pipe(Layer.provideMerge(sharedRuntime()))

/** Polls a transfer to dev account `watched` from `from` through a watcher `name` of `processor` and awaits its one task; answers the hash. */
const processedOnce = (name: string, processor: string, from: number, watched: `0x${string}`) =>
  Effect.gen(function*() {
    const { hash, tasks: page } = yield* pollTransfer(name, processor, from, watched)
    assert.strictEqual(page.length, 1)
    const tasks = yield* Tasks.Tasks
    for (const task of page) yield* tasks.awaitInfo(task.id)
    return hash
  })

/** The watcher's items as (id, status, outcome, error). */
const itemsOf = (name: string) =>
  Effect.map(Effect.flatMap(Effect.service(Watchers.Watchers), (watchers) => watchers.items(name)), (items) =>
    items.map((row) => [row.id, row.status, row.outcome, row.error]))

layer(runtime, { excludeTestServices: true, timeout: 120_000 })("WatchProcessor, a failure that is no Error", (it) => {
  it.effect("a processor failing with a plain string records the item failed with that string as its message", () =>
    Effect.gen(function*() {
      const hash = yield* processedOnce("plain", Plain.name, 14, address(15))
      assert.deepStrictEqual(yield* itemsOf("plain"), [[`dev:${hash}`, "failed", null, `no dev:${hash}`]])
    }), 60_000)

  it.effect("an interrupted handler records nothing: the item stays submitted until settled from its task's record", () =>
    Effect.gen(function*() {
      const hash = yield* processedOnce("interrupted", Interrupted.name, 16, address(17))
      assert.deepStrictEqual(yield* itemsOf("interrupted"), [[`dev:${hash}`, "submitted", null, null]])
      yield* (yield* Watchers.Watchers).poll("interrupted")
      assert.deepStrictEqual(yield* itemsOf("interrupted"), [[`dev:${hash}`, "failed", null, "task interrupted"]])
    }), 60_000)
})
