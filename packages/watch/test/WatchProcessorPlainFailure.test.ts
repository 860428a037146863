/**
 * A processor whose error is no `Error` (its error Schema a plain string),
 * on a real Hardhat node and SQLite files, the watcher driven by `poll`: the
 * item's failure is recorded with that value as its message, as an `Error`'s
 * message would be. Processing is awaited through the task's record.
 */
import { Tasks } from "@chainjobs/tasks"
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import * as Watchers from "../src/Watchers.ts"
import * as WatchItem from "../src/WatchItem.ts"
import * as WatchProcessor from "../src/WatchProcessor.ts"
import { address, DevChain, node, sharedRuntime } from "./fixtures.ts"

/** A processor failing every item with a plain string. */
const Plain = WatchProcessor.define("test.plain-failure", { error: Schema.String })

const runtime = WatchProcessor.implement(Plain, (item) => Effect.fail(`no ${WatchItem.id(item)}`)).pipe(
  Layer.provideMerge(sharedRuntime())
)

layer(runtime, { excludeTestServices: true, timeout: 120_000 })("WatchProcessor, a failure that is no Error", (it) => {
  it.effect("a processor failing with a plain string records the item failed with that string as its message", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const watchers = yield* Watchers.Watchers
      const tasks = yield* Tasks.Tasks
      const watched = address(15)
      yield* watchers.add({ name: "plain", chain: "dev", processor: Plain.name, accounts: [watched], confirmations: 0, paused: true })
      const hash = yield* act.sendRaw(yield* act.sign(14, watched, 1n))
      yield* watchers.poll("plain")
      const page = yield* tasks.list({ kind: [Plain.name], limit: 10 })
      assert.strictEqual(page.items.length, 1)
      for (const task of page.items) yield* tasks.awaitInfo(task.id)
      const items = yield* watchers.items("plain")
      assert.deepStrictEqual(items.map((row) => [row.id, row.status, row.outcome, row.error]), [[`dev:${hash}`, "failed", null, `no dev:${hash}`]])
    }), 60_000)
})
