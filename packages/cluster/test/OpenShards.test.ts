/**
 * `OpenShards` on its own: which held shards admit new submissions. A shard
 * opens once its records are adopted, and only if no close came since the
 * adoption read its epoch and the runner still holds it; a close counts the
 * epoch up and shuts it; a submission waits for its shard to open, and gives
 * up when the runner stops holding it or after `openTimeout`; the adoption is
 * woken by a close or a waiting submission, or looks after its interval.
 * Which shards are held is the test's (`held`), as `Sharding.hasShardId`
 * would say it; time is the test clock's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Duration, Effect, Fiber, Schema } from "effect"
import { ShardId } from "effect/cluster"
import { TestClock } from "effect/testing"
import { Task, Tasks, TasksConfig, TaskStore } from "@chainjobs/tasks"
import * as OpenShards from "../src/OpenShards.ts"
import * as TaskEntity from "../src/TaskEntity.ts"

/** A task that runs until stopped, and whose stop waits for its `gate` (a finalizer still running). */
const SlowStop = Task.define("slow-stop", { payload: Schema.Struct({}), success: Schema.Void })

const one = ShardId.make("default", 1)
const two = ShardId.make("default", 2)

/** Open shards over the shards `held` names (as `group:id`), which the test changes. */
const over = (...initially: ReadonlyArray<ShardId.ShardId>) => {
  const held = new Set(initially.map((shard) => shard.toString()))
  return { held, shards: OpenShards.make((shard) => held.has(shard.toString())) }
}

/** Lets the forked fibers run until they wait. */
const settle = Effect.andThen(TestClock.adjust(0), Effect.yieldNow)

describe("OpenShards", () => {
  it("a shard opens once, while held and not closed since the epoch its adoption read; a close shuts it and counts its epoch up", () => {
    const { held, shards } = over(one)
    assert.isFalse(shards.isOpen(one))
    assert.isFalse(shards.isOpen(ShardId.make("other", 7)), "a shard never seen")
    const read = shards.epoch(one)
    assert.isTrue(shards.open(one, read))
    assert.isTrue(shards.isOpen(one))
    assert.strictEqual(shards.count, 1)
    // open already: not opened twice, not counted twice
    assert.isFalse(shards.open(one, read))
    assert.strictEqual(shards.count, 1)
    // not held: never opens
    assert.isFalse(shards.open(two, shards.epoch(two)))
    assert.isFalse(shards.isOpen(two))
    shards.close(one)
    assert.isFalse(shards.isOpen(one))
    assert.deepStrictEqual([shards.count, shards.epoch(one)], [0, read + 1])
    // closing a closed shard counts its epoch up, not the open shards down
    shards.close(one)
    assert.deepStrictEqual([shards.count, shards.epoch(one)], [0, read + 2])
    // an adoption that read the epoch before a close does not open the shard; one that read it after does
    const before = shards.epoch(one)
    shards.close(one)
    assert.isFalse(shards.open(one, before))
    assert.isTrue(shards.open(one, shards.epoch(one)))
    held.add(two.toString())
    assert.isTrue(shards.open(two, shards.epoch(two)))
    assert.strictEqual(shards.count, 2)
    // released meanwhile: an adoption of it opens nothing
    held.delete(one.toString())
    shards.close(one)
    assert.isFalse(shards.open(one, shards.epoch(one)))
    assert.deepStrictEqual([shards.isOpen(one), shards.isOpen(two), shards.count], [false, true, 1])
  })

  it.effect("a submission waits until its shard opens: at once if open, false if not held or released meanwhile, false after openTimeout", () =>
    Effect.gen(function*() {
      const { held, shards } = over(one, two)
      shards.open(one, shards.epoch(one))
      assert.isTrue(yield* shards.whenOpen(one))
      held.delete(ShardId.make("default", 3).toString())
      assert.isFalse(yield* shards.whenOpen(ShardId.make("default", 3)))
      // closed and held: waits, and hears its opening
      const waiting = yield* Effect.forkChild(shards.whenOpen(two))
      yield* settle
      assert.isUndefined(waiting.pollUnsafe())
      assert.isTrue(shards.open(two, shards.epoch(two)))
      assert.isTrue(yield* Fiber.join(waiting))
      // released while it waits: false at the next look, a quarter of a second on
      shards.close(two)
      const released = yield* Effect.forkChild(shards.whenOpen(two))
      yield* settle
      held.delete(two.toString())
      yield* TestClock.adjust("200 millis")
      assert.isUndefined(released.pollUnsafe())
      yield* TestClock.adjust("50 millis")
      assert.isFalse(yield* Fiber.join(released))
      // held but never opened: false after openTimeout
      held.add(two.toString())
      const stuck = yield* Effect.forkChild(shards.whenOpen(two))
      yield* settle
      yield* TestClock.adjust(Duration.subtract(OpenShards.openTimeout, Duration.millis(1)))
      assert.isUndefined(stuck.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.isFalse(yield* Fiber.join(stuck))
    }))

  it.effect("the adoption is woken by a close or a waiting submission, and otherwise looks after its interval", () =>
    Effect.gen(function*() {
      const { shards } = over(one)
      const idle = yield* Effect.forkChild(shards.woken("1 second"))
      yield* settle
      yield* TestClock.adjust("999 millis")
      assert.isUndefined(idle.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      yield* Fiber.join(idle)
      // a close wakes it at once; the wake is spent by that look
      shards.close(one)
      const afterClose = yield* Effect.forkChild(shards.woken("1 second"))
      yield* settle
      assert.isDefined(afterClose.pollUnsafe())
      const next = yield* Effect.forkChild(shards.woken("1 second"))
      yield* settle
      assert.isUndefined(next.pollUnsafe())
      // a submission waiting for the shard wakes it too
      const waiting = yield* Effect.forkChild(shards.whenOpen(one))
      yield* settle
      assert.isDefined(next.pollUnsafe())
      shards.open(one, shards.epoch(one))
      assert.isTrue(yield* Fiber.join(waiting))
    }))
  it("a shard released and held again while its adoption reads is not opened by that adoption: `sample` saw it leave", () => {
    const { held, shards } = over(one, two)
    shards.sample([one, two])
    // an adoption reads one's epoch, then one goes to another runner and comes back before the adoption ends
    const read = shards.epoch(one)
    held.delete(one.toString())
    shards.sample([one, two])
    held.add(one.toString())
    shards.sample([one, two])
    assert.isFalse(shards.open(one, read), "its tasks may have left with it: adopted again first")
    assert.isTrue(shards.open(one, shards.epoch(one)))
    // held throughout: sampling closes nothing
    const twoRead = shards.epoch(two)
    shards.sample([one, two])
    assert.isTrue(shards.open(two, twoRead))
    // an open shard that leaves is closed by the sample
    held.delete(two.toString())
    shards.sample([one, two])
    assert.isFalse(shards.isOpen(two))
    assert.strictEqual(shards.count, 1)
  })

  it.effect("`follow` samples until its scope closes", () =>
    Effect.gen(function*() {
      const { held, shards } = over(one)
      yield* Effect.scoped(Effect.gen(function*() {
        yield* OpenShards.follow(shards, [one])
        yield* settle
        assert.isTrue(shards.open(one, shards.epoch(one)))
        held.delete(one.toString())
        yield* TestClock.adjust(OpenShards.sampleInterval)
        yield* settle
        assert.isFalse(shards.isOpen(one), "closed within one sample interval")
      }))
    }))

  it.live("a hand-over keeps its shard from opening until its tasks are let go: an adoption meanwhile finds them stopping and adopts nothing", () =>
    Effect.gen(function*() {
      const { shards } = over(one)
      const gate = yield* Deferred.make<void>()
      const stopping = yield* Deferred.make<void>()
      // a real supervisor on an in-memory store; the finalizer's wait is the only thing injected
      const local = yield* Tasks.make.pipe(
        Effect.provideService(TasksConfig.TasksConfig, TasksConfig.make({ maxWorkers: 2 })),
        Effect.provide(TaskStore.layerMemory)
      )
      yield* local.register(SlowStop, () =>
        Effect.never.pipe(Effect.onInterrupt(() => Effect.andThen(Deferred.succeed(stopping, void 0), Deferred.await(gate)))), Context.empty())
      const task = yield* local.submit(SlowStop, {})
      // whatever the test finds: the task stops, so the supervisor's shutdown does not wait for it
      yield* Effect.addFinalizer(() => Effect.andThen(Deferred.succeed(gate, void 0), local.handOff(task.id)))
      while ((yield* local.get(task.id)).status !== "running") yield* Effect.sleep("5 millis")
      assert.isTrue(shards.open(one, shards.epoch(one)))
      const handingOver = yield* Effect.forkChild(TaskEntity.handOver({ local, openShards: shards }, one, [task.id]))
      yield* Deferred.await(stopping)
      assert.isFalse(shards.isOpen(one))
      // the adoption's look: reads the epoch, reads the record (still running), adopts it: still held here, so nothing
      const read = shards.epoch(one)
      yield* local.adopt(task.id)
      assert.isFalse(shards.open(one, read), "opened while its task was still being let go")
      yield* Deferred.succeed(gate, void 0)
      yield* Fiber.join(handingOver)
      assert.strictEqual((yield* local.get(task.id)).status, "pending", "let go: left pending for the next adoption")
      // the next look adopts it, then opens the shard
      const next = shards.epoch(one)
      yield* local.adopt(task.id)
      assert.isTrue(shards.open(one, next))
    }).pipe(Effect.scoped))
})
