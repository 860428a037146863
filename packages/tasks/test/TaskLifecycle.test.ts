import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Layer, Option, Ref, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Task from "../src/Task.ts"
import { TaskContext } from "../src/TaskContext.ts"
import { TaskAborted } from "../src/TaskError.ts"
import * as TaskStore from "../src/TaskStore.ts"
import * as TasksConfig from "../src/TasksConfig.ts"
import { settle, startOn } from "./fixtures.ts"
import { record } from "./TaskStoreConformance.ts"

/** Counts blocks from its checkpoint up to `to`, one per second, checkpointing each; notes what it saw. */
const Count = Task.define("count", {
  payload: Schema.Struct({ to: Schema.Int }),
  success: Schema.Int,
  checkpoint: Schema.Struct({ block: Schema.Int }),
  policy: { onRestart: "resume" }
})
/** The same, but a restart fails it as lost. */
const CountOnce = Task.define("count-once", {
  payload: Count.payload,
  success: Schema.Int,
  checkpoint: Count.checkpoint,
  policy: { onRestart: "fail" }
})

const counting = (seen: Ref.Ref<ReadonlyArray<string>>) => (({ to }: { to: number }) =>
  Effect.gen(function*() {
    const context = yield* TaskContext
    const last = yield* Task.loadCheckpoint(Count)
    let block = Option.isSome(last) ? last.value.block : 0
    yield* Ref.update(seen, (s) => [...s, `attempt ${context.attempt} from ${block}`])
    while (block < to) {
      yield* Effect.sleep("1 second")
      block++
      yield* Task.saveCheckpoint(Count, { block })
      yield* context.progress((block / to) * 100)
    }
    return block
  }))

const implementations = (seen: Ref.Ref<ReadonlyArray<string>>) =>
  Layer.mergeAll(Task.implement(Count, counting(seen)), Task.implement(CountOnce, counting(seen)))

/** A supervisor running both counting kinds on `store`. */
const startSupervisor = (
  store: TaskStore.TaskStore["Service"],
  seen: Ref.Ref<ReadonlyArray<string>>,
  options: Partial<TasksConfig.TasksConfig["Service"]> = {}
) => startOn(store, implementations(seen), options)

describe("graceful shutdown", () => {
  it.effect("refuses new tasks, lets running ones finish within the grace period, then records the rest", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const { scope, tasks } = yield* startSupervisor(store, seen, { maxWorkers: 3, shutdownGracePeriod: "29500 millis" })
      const quick = yield* tasks.submit(CountOnce, { to: 10 })
      const slowOnce = yield* tasks.submit(CountOnce, { to: 100 })
      const slowResumable = yield* tasks.submit(Count, { to: 100 })
      const waiting = yield* tasks.submit(Count, { to: 1 })
      yield* settle
      yield* TestClock.adjust("5 seconds")

      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void))
      yield* settle
      const refused = yield* Effect.flip(tasks.submit(Count, { to: 1 }))
      assert.strictEqual(refused._tag, "SubmitRejected")
      if (refused._tag === "SubmitRejected") assert.strictEqual(refused.reason, "shutting-down")

      yield* TestClock.adjust("30 seconds")
      yield* Fiber.join(closing)
      const status = (id: string) => Effect.map(store.get(id), (o) => Option.getOrThrow(o))
      assert.strictEqual((yield* status(quick.id)).status, "completed")
      const once = yield* status(slowOnce.id)
      assert.strictEqual(once.status, "interrupted")
      assert.deepStrictEqual(once.checkpoint, { block: 34 })
      // a resumable task is left for the next process, with its checkpoint
      const resumable = yield* status(slowResumable.id)
      assert.strictEqual(resumable.status, "pending")
      assert.strictEqual(resumable.attempt, 2)
      assert.deepStrictEqual(resumable.checkpoint, { block: 34 })
      assert.strictEqual((yield* status(waiting.id)).status, "pending")
    }))
})

describe("restart recovery", () => {
  it.effect("a new supervisor resumes resumable tasks from their checkpoint, fails the others as lost, runs pending ones", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      // what a process killed mid-flight leaves behind
      const resumable = record({ kind: "count", status: "running", payload: { to: 5 }, checkpoint: { block: 3 }, attempt: 1, startedAt: 0 })
      const once = record({ kind: "count-once", status: "running", payload: { to: 5 }, checkpoint: { block: 2 }, startedAt: 0 })
      // a checkpoint its kind's Schema no longer reads: the task starts over
      const waiting = record({ kind: "count", status: "pending", payload: { to: 2 }, checkpoint: { blk: "x" } })
      const unknownKind = record({ kind: "retired-kind", status: "running" })
      for (const info of [resumable, once, waiting, unknownKind]) yield* store.insert(info)

      const { scope, tasks } = yield* startSupervisor(store, seen)
      const lost = yield* tasks.get(once.id)
      assert.strictEqual(lost.status, "failed")
      assert.strictEqual(lost.reason, "lost")
      const lostExit = yield* (yield* tasks.handle(once.id)).await
      assert.deepStrictEqual(
        lostExit,
        Exit.fail(new TaskAborted({ id: once.id, reason: "lost", detail: "the process running the task stopped before it finished" }))
      )

      yield* settle
      yield* TestClock.adjust("2 seconds")
      const resumed = yield* tasks.handle(resumable.id)
      assert.deepStrictEqual(yield* resumed.await, Exit.succeed(5))
      assert.strictEqual((yield* resumed.info).attempt, 2)
      const picked = yield* tasks.handle(waiting.id)
      assert.deepStrictEqual(yield* picked.await, Exit.succeed(2))
      assert.deepStrictEqual(yield* Ref.get(seen), ["attempt 2 from 3", "attempt 1 from 0"])
      // a kind nobody registered is left untouched
      assert.strictEqual((yield* tasks.get(unknownKind.id)).status, "running")
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("a task shut down mid-run resumes in the next supervisor from its checkpoint", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const first = yield* startSupervisor(store, seen, { shutdownGracePeriod: 0 })
      const handle = yield* first.tasks.submit(Count, { to: 10 })
      yield* settle
      yield* TestClock.adjust("4 seconds")
      yield* Scope.close(first.scope, Exit.void)

      const second = yield* startSupervisor(store, seen)
      yield* settle
      yield* TestClock.adjust("6 seconds")
      const resumed = yield* second.tasks.handle(handle.id)
      assert.deepStrictEqual(yield* resumed.await, Exit.succeed(10))
      assert.deepStrictEqual(yield* Ref.get(seen), ["attempt 1 from 0", "attempt 2 from 4"])
      yield* Scope.close(second.scope, Exit.void)
    }))
})

/** A scan over bigint blocks: its checkpoint and progress detail hold bigints, stored as decimal strings. */
const Scan = Task.define("scan", {
  payload: Schema.Struct({ to: Schema.BigInt }),
  success: Schema.BigInt,
  checkpoint: Schema.Struct({ next: Schema.BigInt }),
  detail: Schema.Struct({ at: Schema.BigInt }),
  policy: { onRestart: "resume" }
})

describe("the typed handler context", () => {
  it.effect("a handler's context saves, reads and reports in its kind's types, stored as JSON, across a restart", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const ScanLive = Task.implement(Scan, ({ to }, context) =>
        Effect.gen(function*() {
          const last = yield* context.lastCheckpoint
          let next = Option.isSome(last) ? last.value.next : 0n
          yield* Ref.update(seen, (s) => [...s, `attempt ${context.attempt} from ${typeof next} ${next}`])
          while (next < to) {
            yield* Effect.sleep("1 second")
            next += 1n
            yield* context.checkpoint({ next })
            yield* context.progress(Number((next * 100n) / to), undefined, { at: next })
          }
          return next
        }))
      const first = yield* startOn(store, ScanLive, { shutdownGracePeriod: 0 })
      const handle = yield* first.tasks.submit(Scan, { to: 5n })
      yield* settle
      yield* TestClock.adjust("3 seconds")
      const stored = Option.getOrThrow(yield* store.get(handle.id))
      assert.deepStrictEqual(stored.checkpoint, { next: "3" })
      assert.deepStrictEqual(stored.detail, { at: "3" })
      yield* Scope.close(first.scope, Exit.void)

      const second = yield* startOn(store, ScanLive)
      yield* settle
      yield* TestClock.adjust("2 seconds")
      assert.deepStrictEqual(yield* (yield* second.tasks.handle(handle.id, Scan)).await, Exit.succeed(5n))
      assert.deepStrictEqual(yield* Ref.get(seen), ["attempt 1 from bigint 0", "attempt 2 from bigint 3"])
      yield* Scope.close(second.scope, Exit.void)
    }))
})
