/**
 * The watchers' default placement (`local`): each active watcher's loop is a
 * fiber of this process, and the supervisor holds nothing of it — no
 * `WatcherLoop` kind registered (a service's kind list shows only the kinds
 * its users submit) and no loop task recorded (a task list shows only their
 * tasks). `tasks` placement, where the loops are such tasks, is in
 * `WatchersLoops.test.ts`. Real dev chain, SQLite task store and watch tables.
 */
import { Tasks } from "@chainjobs/tasks"
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as Watchers from "../src/Watchers.ts"
import { address, DevChain, node, processedCounts, Record, sharedRuntime } from "./fixtures.ts"

/** Waits until the watcher's processor has run for the item: at most 30 s, then fails saying what it had processed. */
const processed = (watcher: string, item: string) =>
  Effect.gen(function*() {
    const deadline = Date.now() + 30_000
    while (!(yield* processedCounts(watcher)).has(item)) {
      if (Date.now() > deadline) {
        const seen = Array.from((yield* processedCounts(watcher)).keys())
        return assert.fail(`watcher ${watcher} has not processed ${item} in 30 s: it processed ${JSON.stringify(seen)}`)
      }
      yield* Effect.sleep("25 millis")
    }
  })

layer(sharedRuntime(), { excludeTestServices: true, timeout: 120_000 })("Watchers placed locally (the default)", (it) => {
  it.effect("an active watcher's loop follows the chain with no loop kind registered and no loop task recorded", () =>
    Effect.gen(function*() {
      const watchers = yield* Watchers.Watchers
      const tasks = yield* Tasks.Tasks
      const act = node((yield* DevChain.DevChain).url)
      const watched = address(7)
      yield* watchers.add({ name: "looping", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0 })
      const item = `dev:${yield* act.sendRaw(yield* act.sign(8, watched, 1n))}`
      // its loop ticked by itself (no poll): the item was recorded and processed
      yield* processed("looping", item)
      assert.notInclude((yield* tasks.kinds).map((kind) => kind.name), Watchers.WatcherLoop.name)
      const loops = yield* tasks.list({ kind: [Watchers.WatcherLoop.name] })
      assert.deepStrictEqual(loops.items.map((info) => info.id), [], "a loop task was recorded")
    }))
})
