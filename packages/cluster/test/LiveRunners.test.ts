/**
 * `LiveRunners` on its own: an adoption of a record another runner runs waits
 * until that runner lets it go — the record no longer `running` there, or
 * gone — while the cluster's runner storage lists that runner alive and
 * healthy; a record of this runner, one not running, or one whose runner is
 * dead or unhealthy is adopted at once; the wait gives up after its timeout;
 * a runner storage that cannot be read fails the adoption with a typed error.
 * effect's memory runner storage and the memory task store; time is the test
 * clock's. `LostShardLocks.test.ts` meets the same waits in a real cluster.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber } from "effect"
import { ClusterError, Runner, RunnerAddress, RunnerStorage } from "effect/cluster"
import { TestClock } from "effect/testing"
import { TaskInfo, TaskStore } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import * as LiveRunners from "../src/LiveRunners.ts"

const self = RunnerAddress.make("127.0.0.1", 7000)
const other = RunnerAddress.make("127.0.0.1", 7001)
const letGoTimeout = Duration.seconds(30)

/** A record of a task on `runner` (`host:port`), `running` unless `fields` say otherwise. */
const onRunner = (runner: string | undefined, fields: Partial<TaskInfo.TaskInfo> = {}): TaskInfo.TaskInfo =>
  record({
    id: TaskInfo.makeId(0),
    kind: "k",
    status: "running",
    payload: {},
    createdAt: 0,
    startedAt: 0,
    heartbeatAt: 0,
    ...(runner === undefined ? {} : { runner }),
    ...fields
  })

/**
 * The waits of runner `self` over a memory runner storage (`runners`) and task store (`store`); `refused` makes the
 * storage's reads of the runners fail, as a lost database connection would.
 */
const waits = Effect.gen(function*() {
  // the test clock starts at 0: a wait's start must not be, or a duration measured as a sum would pass for one
  yield* TestClock.adjust("1 hour")
  const runners = yield* RunnerStorage.makeMemory
  const store = yield* TaskStore.makeMemory
  // `reads`: how many times the runners were read
  const faults = { refused: false, reads: 0 }
  const storage = RunnerStorage.RunnerStorage.of({
    ...runners,
    getRunners: Effect.suspend(() => {
      faults.reads++
      return faults.refused
        ? Effect.fail(new ClusterError.PersistenceError({ cause: new Error("refused by the test") }))
        : runners.getRunners
    })
  })
  const live = yield* LiveRunners.make(LiveRunners.addressOf(self), letGoTimeout).pipe(
    Effect.provideService(RunnerStorage.RunnerStorage, storage),
    Effect.provideService(TaskStore.TaskStore, store)
  )
  const join = (address: RunnerAddress.RunnerAddress, healthy: boolean) =>
    runners.register(new Runner.Runner({ address, groups: ["default"], weight: 1 }), healthy)
  return { runners, store, faults, live, join }
})

/** Whether `fiber` has ended once the forked fibers ran until they wait. */
const ended = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.andThen(Effect.andThen(TestClock.adjust(0), Effect.yieldNow), Effect.sync(() => fiber.pollUnsafe() !== undefined))

describe("LiveRunners", () => {
  it.effect("waits while another runner, alive and healthy, runs the task: until its record is no longer running there, or is gone", () =>
    Effect.gen(function*() {
      const { join, live, store } = yield* waits
      yield* join(other, true)
      const running = onRunner(LiveRunners.addressOf(other))
      yield* store.insert(running)
      const waiting = yield* Effect.forkChild(live.awaitLetGo(running))
      yield* TestClock.adjust("1 second")
      assert.isFalse(yield* ended(waiting), "adopted while the other runner still runs it")
      // handed over there: left pending
      yield* store.update({ ...running, status: "pending" })
      yield* TestClock.adjust("100 millis")
      assert.isTrue(yield* ended(waiting), "still waiting for a record no longer running")
      // deleted meanwhile
      const deleted = onRunner(LiveRunners.addressOf(other), { id: TaskInfo.makeId(1) })
      yield* store.insert(deleted)
      const waitingDeleted = yield* Effect.forkChild(live.awaitLetGo(deleted))
      yield* TestClock.adjust("300 millis")
      assert.isFalse(yield* ended(waitingDeleted))
      yield* store.remove(deleted.id)
      yield* TestClock.adjust("100 millis")
      assert.isTrue(yield* ended(waitingDeleted), "still waiting for a record gone")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(waitingDeleted)))
    }))

  it.effect("adopts at once a task this runner runs, one not running, one naming no runner, and one whose runner is unhealthy or not listed", () =>
    Effect.gen(function*() {
      const { join, live } = yield* waits
      // this runner alive and healthy: its own record is not waited for all the same
      yield* join(self, true)
      yield* join(other, false)
      const third = RunnerAddress.make("127.0.0.1", 7002)
      const now = [
        onRunner(LiveRunners.addressOf(self)),
        onRunner(LiveRunners.addressOf(other), { status: "pending" }),
        onRunner(undefined),
        onRunner(LiveRunners.addressOf(other)),
        onRunner(LiveRunners.addressOf(third))
      ]
      for (const info of now) {
        const fiber = yield* Effect.forkChild(live.awaitLetGo(info))
        assert.isTrue(yield* ended(fiber), `waited for ${info.status} on ${info.runner}`)
      }
      // the same address listed healthy is waited for, from the next snapshot of the runners (at most a tick old)
      yield* join(third, true)
      yield* TestClock.adjust(LiveRunners.pollInterval)
      const waiting = yield* Effect.forkChild(live.awaitLetGo(now[4]!))
      assert.isFalse(yield* ended(waiting))
    }))

  it.effect("gives up waiting after its timeout: a runner restarted at the same address does not run its predecessor's tasks", () =>
    Effect.gen(function*() {
      const { join, live, store } = yield* waits
      yield* join(other, true)
      const running = onRunner(LiveRunners.addressOf(other))
      yield* store.insert(running)
      const waiting = yield* Effect.forkChild(live.awaitLetGo(running))
      // looked at every 100 ms: the last look before the timeout, then the one at it
      yield* TestClock.adjust(Duration.subtract(letGoTimeout, Duration.millis(100)))
      assert.isFalse(yield* ended(waiting), "gave up before its timeout")
      yield* TestClock.adjust("100 millis")
      assert.isTrue(yield* ended(waiting), "still waiting after its timeout")
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(waiting)))
    }))

  it.effect("every wait reads the runners from one snapshot a tick, not one read per waiting record", () =>
    Effect.gen(function*() {
      const { faults, join, live, store } = yield* waits
      yield* join(other, true)
      const records = Array.from({ length: 20 }, (_, i) => onRunner(LiveRunners.addressOf(other), { id: TaskInfo.makeId(i) }))
      yield* Effect.forEach(records, (info) => store.insert(info), { discard: true })
      faults.reads = 0
      const waiting = yield* Effect.forEach(records, (info) => Effect.forkChild(live.awaitLetGo(info)))
      yield* TestClock.adjust(0)
      // ten ticks, twenty waits: one read at the start and one a tick
      for (let tick = 0; tick < 10; tick++) yield* TestClock.adjust(LiveRunners.pollInterval)
      assert.isAtMost(faults.reads, 11, `${faults.reads} reads of the runners for 20 waits over 10 ticks`)
      for (const fiber of waiting) assert.isFalse(yield* ended(fiber), "adopted while the other runner still runs it")
      // let go there: every wait ends at its next look
      yield* Effect.forEach(records, (info) => store.update({ ...info, status: "pending" }), { discard: true })
      yield* TestClock.adjust(LiveRunners.pollInterval)
      for (const fiber of waiting) assert.isTrue(yield* ended(fiber), "still waiting for a record no longer running")
    }))

  it.effect("fails with a store error when the cluster's runners cannot be read", () =>
    Effect.gen(function*() {
      const { faults, join, live } = yield* waits
      yield* join(other, true)
      faults.refused = true
      const error = yield* Effect.flip(live.awaitLetGo(onRunner(LiveRunners.addressOf(other))))
      assert.strictEqual(error._tag, "TaskStoreError")
      assert.strictEqual(error.operation, "adopt")
      assert.match(error.detail, /^cannot read the cluster's runners: Error: refused by the test$/)
    }))
})
