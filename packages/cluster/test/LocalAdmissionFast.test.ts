/**
 * `LocalAdmission.make` on one runner, alone: a real supervisor (`Tasks.make`,
 * the memory store), effect's in-memory sharding (as `TestRunner.layer`, with
 * 12 shards: this runner holds every shard, the guard entity's `Hold` messages
 * reach it as a runner's do), and the task entity's `OpenShards` over what the sharding
 * holds, opened by the test in place of the adoption.
 *
 * `ClusterLocalAdmission.test.ts` admits on real runners (PostgreSQL, shards
 * moving between two runners, child-free but a database each): 25 s for three.
 * These take 1.4 s together (with 300 shards, 8 s: the guards' entities), so a
 * mutation run can afford them for every mutant of the direct admission: the
 * guards opened on held shards, a submission admitted only while its shard's
 * guard is open and the shard open, the tasks the guards know (a refused or
 * joined submission not among them, a finished one forgotten at the next
 * prune), and the close: no more direct admissions, a submission under way
 * recorded first, every unfinished task known handed over (left pending).
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Option, Schema, type Scope } from "effect"
import { MessageStorage, RunnerHealth, Runners, RunnerStorage, Sharding, ShardingConfig, ShardId } from "effect/cluster"
import { LocalAdmission, OpenShards, TaskEntity } from "@chainjobs/cluster"
import { Task, type TaskHandle, TaskInfo, Tasks, TasksConfig, TaskStore } from "@chainjobs/tasks"
import { eventually } from "./InProcessCluster.ts"

/** Runs until its gate opens. */
const Gated = Task.define("gated", { payload: Schema.Struct({}), success: Schema.Void })

/** Shards per group: a few, so that the guards of all of them open within the first looks. */
const shards = 12

/**
 * effect's in-memory sharding (as its `TestRunner.layer`: one runner holding every shard, no other runner) with
 * `shards` shards per group.
 */
const inMemorySharding = Sharding.layer.pipe(
  Layer.provideMerge(Runners.layerNoop),
  Layer.provideMerge(MessageStorage.layerMemory),
  Layer.provide([RunnerStorage.layerMemory, RunnerHealth.layerNoop]),
  Layer.provide(ShardingConfig.layer({ shardsPerGroup: shards }))
)

/** The bucket entity an unkeyed task of `id` is placed on, and its shard. */
const placed = (sharding: Sharding.Sharding["Service"], id: string) => {
  const entityId = TaskEntity.placement({ id, kind: Gated.name, key: null })
  return { entityId, shard: TaskEntity.shardOf(sharding, entityId) }
}

/**
 * A supervisor whose tasks wait for `gate`, the open shards over what the sharding holds (every one of its shards
 * opened), and the direct admission over them, once a guard is open on each shard.
 */
const setUp = Effect.gen(function*() {
  const gate = yield* Deferred.make<void>()
  const store = yield* TaskStore.makeMemory
  const local = yield* Tasks.make.pipe(
    Effect.provideService(TasksConfig.TasksConfig, TasksConfig.make({ maxWorkers: 50, shutdownGracePeriod: 0 })),
    Effect.provideService(TaskStore.TaskStore, store)
  )
  yield* local.register(Gated, () => Deferred.await(gate), Context.empty())
  const sharding = yield* Sharding.Sharding
  const openShards = OpenShards.make((shard) => sharding.hasShardId(shard))
  const open = (shard: ShardId.ShardId) => openShards.open(shard, openShards.epoch(shard))
  const admission = yield* LocalAdmission.make(local, shards, openShards)
  // every shard's guard opens within a few looks
  yield* eventually(admission.guarded.pipe(Effect.map((guarded) => guarded === shards)), () => `a guard on each of the ${shards} shards`)
  // every shard open, as once its unfinished tasks are adopted (the guards opened on held shards only)
  for (let n = 1; n <= shards; n++) assert.isTrue(open(ShardId.make("default", n)), `shard ${n} opens`)
  return { admission, gate, local, open, openShards, sharding, store }
})

type SetUp = Effect.Success<typeof setUp>

/** Runs `body` over a set-up on the in-memory sharding, its tasks let go after. */
const withSetUp = <A, E>(body: (setUp: SetUp) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.gen(function*() {
    const made = yield* setUp
    return yield* Effect.ensuring(body(made), Deferred.succeed(made.gate, undefined))
  }).pipe(Effect.scoped, Effect.provide(inMemorySharding))

/** Submits an unkeyed task of a fresh id through the direct admission: its id, shard, and what `submit` answered. */
const submitDirect = (
  { admission, local, sharding }: SetUp,
  make: (id: string) => Effect.Effect<TaskHandle.TaskHandle<any, any>, unknown> = (id) => local.submit(Gated, {}, { id })
) => {
  const id = TaskInfo.makeId(Date.now())
  const { entityId, shard } = placed(sharding, id)
  return Effect.map(admission.submit(entityId, id, Effect.suspend(() => make(id))), (answer) => ({ id, shard, answer }))
}

describe("LocalAdmission.make on one runner", () => {
  it.live("guards every held shard; a submission of an open shard is admitted here and known, one of a closed shard is not run", () =>
    withSetUp((setUp) =>
      Effect.gen(function*() {
        const { admission, local, open, openShards, sharding } = setUp
        const id = TaskInfo.makeId(Date.now())
        const { entityId, shard } = placed(sharding, id)
        assert.isTrue(admission.admits(shard), "guarded and open")
        // closed (its tasks handed over elsewhere, not adopted again yet)
        openShards.close(shard)
        assert.isFalse(admission.admits(shard), "guarded but not open: not admitted directly")
        let ran = false
        const refused = yield* admission.submit(entityId, id, Effect.sync(() => (ran = true)).pipe(Effect.andThen(local.submit(Gated, {}, { id }))))
        assert.isTrue(Option.isNone(refused) && !ran, "a closed shard's submission takes the entity's path: nothing ran")
        assert.isTrue(open(shard))
        assert.isTrue(admission.admits(shard))
        const admitted = yield* admission.submit(entityId, id, local.submit(Gated, {}, { id }))
        assert.isTrue(Option.isSome(admitted) && admitted.value.id === id, "admitted directly")
        assert.strictEqual(yield* admission.known, 1)
        assert.deepInclude(Tasks.peek(local, id), { id, kind: "gated" })
        // closed again: not admitted directly any more
        openShards.close(shard)
        assert.isFalse(admission.admits(shard))
        assert.isTrue(Option.isNone(yield* admission.submit(entityId, "other", local.submit(Gated, {}))))
      })), { timeout: 60_000 })

  it.live("a refused submission and one that joined another task are not known; a finished task is forgotten at the next prune", () =>
    withSetUp((setUp) =>
      Effect.gen(function*() {
        const { admission, gate, local } = setUp
        const kept = yield* submitDirect(setUp)
        assert.isTrue(Option.isSome(kept.answer), "admitted")
        assert.strictEqual(yield* admission.known, 1)
        // refused by the supervisor: not known, and the guard counts no submission under way (its close ends)
        const failed = yield* Effect.exit(submitDirect(setUp, () => Effect.fail("refused")))
        assert.isTrue(Exit.isFailure(failed))
        // answered with another task's handle, as a submission joining that task is: not this guard's
        const keptHandle = Option.getOrThrow(kept.answer)
        const joined = yield* submitDirect(setUp, () => Effect.succeed(keptHandle))
        assert.isTrue(Option.isSome(joined.answer) && joined.answer.value.id === kept.id)
        assert.strictEqual(yield* admission.known, 1, "only the task admitted here")
        yield* Deferred.succeed(gate, undefined)
        yield* eventually(
          Effect.map(local.awaitInfo(kept.id), (info) => info.status === "completed"),
          () => "the task ends"
        )
        yield* eventually(Effect.map(admission.known, (known) => known === 0), () => "the finished task forgotten by a prune")
      })), { timeout: 60_000 })

  it.live("close: nothing more admitted, a submission under way recorded first, every unfinished task handed over (left pending)", () =>
    withSetUp((setUp) =>
      Effect.gen(function*() {
        const { admission, local, store } = setUp
        const running = yield* submitDirect(setUp)
        const done = yield* submitDirect(setUp)
        assert.isTrue(Option.isSome(running.answer) && Option.isSome(done.answer))
        yield* eventually(Effect.map(local.stats, (stats) => stats.running === 2), () => "both tasks run")
        // a submission held on its way in while the runner closes
        const hold = yield* Deferred.make<void>()
        // released at the scope's close too: a failed assertion must not leave the submission waiting in the admission's
        // uninterruptible section (the test would hang to its timeout instead of failing with its message)
        yield* Effect.addFinalizer(() => Deferred.succeed(hold, undefined))
        const entered = yield* Deferred.make<void>()
        const late = yield* Effect.forkChild(
          submitDirect(setUp, (id) =>
            Deferred.succeed(entered, undefined).pipe(Effect.andThen(Deferred.await(hold)), Effect.andThen(local.submit(Gated, {}, { id })))),
          { startImmediately: true }
        )
        yield* Deferred.await(entered)
        const closing = yield* Effect.forkChild(admission.close, { startImmediately: true })
        yield* Effect.yieldNow
        assert.isUndefined(closing.pollUnsafe(), "the close waits for the submission under way")
        assert.isFalse(admission.admits(running.shard), "closed: nothing admitted directly")
        assert.isTrue(Option.isNone((yield* submitDirect(setUp)).answer))
        yield* Deferred.succeed(hold, undefined)
        const lateAnswer = yield* Fiber.join(late)
        yield* Fiber.join(closing)
        assert.strictEqual(yield* admission.guarded, 0, "every guard closed")
        assert.strictEqual(yield* admission.known, 0, "every task handed over")
        for (const id of [running.id, done.id, Option.getOrThrow(lateAnswer.answer).id]) {
          assert.isUndefined(Tasks.peek(local, id), `${id} no longer held here`)
          const info = yield* store.get(id)
          assert.deepInclude(Option.getOrThrow(info), { status: "pending" }, `${id} left pending for its shard's next holder`)
        }
      })), { timeout: 60_000 })

  it.effect("refuses a supervisor it cannot look into: a wrapper's memory would look empty", () =>
    Effect.gen(function*() {
      const local = yield* Tasks.make.pipe(
        Effect.provideService(TasksConfig.TasksConfig, TasksConfig.make({ maxWorkers: 1 })),
        Effect.provideService(TaskStore.TaskStore, yield* TaskStore.makeMemory)
      )
      const exit = yield* Effect.exit(LocalAdmission.make({ ...local }, shards, OpenShards.make(() => true)))
      assert.isTrue(Exit.isFailure(exit))
    }).pipe(Effect.scoped, Effect.provide(inMemorySharding)))
})
