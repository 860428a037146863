/**
 * A task stream never goes back. The feed takes the supervisor's changes
 * through a queue, so a stream can begin from a record read ahead of it (the
 * supervisor's own, as the server's hot reads take it, or the store's): the
 * task's earlier changes, still on their way to the feed, then arrive after
 * that record, and are skipped (`RecordOrder`) — the stream does not say
 * `pending` after `running`. Here the feed's intake is held back while the
 * task starts, as a busy feed is.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Stream } from "effect"
import * as RecordOrder from "../src/RecordOrder.ts"
import * as TaskFeed from "../src/TaskFeed.ts"
import type * as TaskInfo from "../src/TaskInfo.ts"
import * as Tasks from "../src/Tasks.ts"
import { Gate, gateLive, supervisor } from "./fixtures.ts"

describe("TaskFeed order", () => {
  it.live("a stream begun from a record read ahead of the feed skips the earlier changes the feed takes after it", () =>
    Effect.gen(function*() {
      const gates = yield* gateLive
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const intakeHeld = yield* Deferred.make<void>()
        // The supervisor's changes reach this feed only once `intakeHeld` opens: a feed behind the supervisor.
        const behind = Tasks.Tasks.of({
          ...tasks,
          changesAndDeletions: Stream.mapEffect(tasks.changesAndDeletions, (item) => Effect.as(Deferred.await(intakeHeld), item))
        })
        const feed = yield* TaskFeed.make().pipe(Effect.provideService(Tasks.Tasks, behind))
        const handle = yield* tasks.submit(Gate, { id: "a" })
        const running = yield* Effect.repeat(handle.info, { until: (info) => info.status === "running" })
        const heard: Array<TaskInfo.TaskInfo> = []
        const ended = yield* Deferred.make<void>()
        yield* feed.listen(handle.id, {
          change: (change) => heard.push(change.info),
          end: () => Deferred.doneUnsafe(ended, Effect.void)
        }, running)
        yield* Deferred.succeed(intakeHeld, undefined)
        yield* gates.open("a")
        yield* Deferred.await(ended).pipe(
          Effect.timeoutOrElse({ duration: "30 seconds", orElse: () => Effect.die(new Error(`the stream never ended; heard ${JSON.stringify(heard.map((info) => info.status))}`)) })
        )
        const statuses = heard.map((info) => info.status)
        assert.strictEqual(statuses[0], "running", `heard ${statuses}`)
        assert.strictEqual(statuses.at(-1), "completed", `heard ${statuses}`)
        assert.notInclude(statuses, "pending", `heard ${statuses}`)
        for (let i = 1; i < heard.length; i++) {
          assert.isAtMost(RecordOrder.compare(heard[i - 1]!, heard[i]!), 0, `record ${i} (${statuses[i]}) is earlier than ${i - 1}: ${statuses}`)
        }
      }).pipe(Effect.provide(supervisor(gates.layer)), Effect.scoped)
    }))
})
