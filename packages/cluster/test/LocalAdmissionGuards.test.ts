/**
 * What `LocalAdmissionFast.test.ts` left to chance in `LocalAdmission.make`
 * (mutation stage K4b's survivors), on the same in-memory sharding and real
 * supervisor: the prunes keep every task a guard must hand over — one whose
 * submission is under way, one running — and forget one the supervisor let
 * go of; a submission of a known id that fails, or two of one id at once,
 * leave the task known exactly as long as it is held; a `Hold` sent again to
 * a guarded shard, or after the close, opens no second guard and is answered
 * at once; a shard the cluster let go of admits nothing directly while its
 * guard has not ended yet. And `none` admits nothing, and `make` says why it
 * refuses a wrapper.
 *
 * Each waits for a prune by what it does (a finished task forgotten), never
 * for a time.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Deferred, Effect, Exit, Fiber, Option, Schema, type Scope } from "effect"
import { Sharding, ShardId } from "effect/cluster"
import { LocalAdmission, OpenShards, TaskEntity } from "@chainjobs/cluster"
import { Task, type TaskHandle, TaskInfo, Tasks, TasksConfig, TaskStore } from "@chainjobs/tasks"
import { inMemorySharding, shards } from "./InMemorySharding.ts"
import { eventually, within } from "./InProcessCluster.ts"

/** Runs until the gate named by its payload opens. */
const Gated = Task.define("gated", { payload: Schema.Struct({ gate: Schema.String }), success: Schema.Void })

/**
 * A supervisor whose tasks wait for their gates; the direct admission over a view of the in-memory sharding in which
 * the test lets shards go (`letGo`: no longer held, as between the cluster releasing a shard and ending its guard);
 * every shard guarded and open.
 */
const setUp = Effect.gen(function*() {
  const gates = new Map<string, Deferred.Deferred<void>>()
  const gate = (name: string) => {
    let found = gates.get(name)
    if (found === undefined) gates.set(name, found = Deferred.makeUnsafe<void>())
    return found
  }
  const store = yield* TaskStore.makeMemory
  const local = yield* Tasks.make.pipe(
    Effect.provideService(TasksConfig.TasksConfig, TasksConfig.make({ maxWorkers: 50, shutdownGracePeriod: 0 })),
    Effect.provideService(TaskStore.TaskStore, store)
  )
  yield* local.register(Gated, ({ gate: name }) => Deferred.await(gate(name)), Context.empty())
  const held = yield* Sharding.Sharding
  const letGo = new Set<string>()
  const sharding: Sharding.Sharding["Service"] = {
    ...held,
    hasShardId: (shard) => !letGo.has(shard.toString()) && held.hasShardId(shard)
  }
  const openShards = OpenShards.make((shard) => sharding.hasShardId(shard))
  const admission = yield* Effect.provideService(LocalAdmission.make(local, shards, openShards), Sharding.Sharding, sharding)
  yield* eventually(admission.guarded.pipe(Effect.map((guarded) => guarded === shards)), () => `a guard on each of the ${shards} shards`)
  for (let n = 1; n <= shards; n++) assert.isTrue(openShards.open(ShardId.make("default", n), openShards.epoch(ShardId.make("default", n))))
  /** Opens every gate: the tasks end, nothing waits at the end of a test. */
  const openAll = Effect.sync(() => gates.forEach((found) => Deferred.doneUnsafe(found, Exit.void)))
  return { admission, gate, letGo, local, openAll, sharding, store }
})

type SetUp = Effect.Success<typeof setUp>

/** Runs `body` over a set-up on the in-memory sharding, every gate opened after. */
const withSetUp = <A, E>(body: (setUp: SetUp) => Effect.Effect<A, E, Scope.Scope | Sharding.Sharding>) =>
  Effect.gen(function*() {
    const made = yield* setUp
    return yield* Effect.ensuring(body(made), made.openAll)
  }).pipe(Effect.scoped, Effect.provide(inMemorySharding))

/** The bucket entity an unkeyed task of `id` is placed on, and its shard. */
const placed = (sharding: Sharding.Sharding["Service"], id: string) => {
  const entityId = TaskEntity.placement({ id, kind: Gated.name, key: null })
  return { entityId, shard: TaskEntity.shardOf(sharding, entityId) }
}

/** Submits task `id` through the direct admission, `make` standing for the supervisor's submission: what it answered. */
const submitDirect = (
  { admission, sharding }: SetUp,
  id: string,
  make: Effect.Effect<TaskHandle.TaskHandle<any, any>, unknown>
) => admission.submit(placed(sharding, id).entityId, id, make)

/** Admits task `id` (gate: its id) directly, and waits until it is recorded. */
const admitGated = (setUp: SetUp, id: string) =>
  Effect.flatMap(submitDirect(setUp, id, setUp.local.submit(Gated, { gate: id }, { id })), (answer) => {
    assert.isTrue(Option.isSome(answer), `${id} admitted directly`)
    return Effect.void
  })

/** Admits a task directly and lets it end; then waits until the guards know fewer than `before` tasks: a prune ran since it ended. */
const pruneAfterAnEnd = (setUp: SetUp, id: string, before: number) =>
  Effect.gen(function*() {
    yield* admitGated(setUp, id)
    assert.strictEqual(yield* setUp.admission.known, before, `${id} known`)
    yield* Deferred.succeed(setUp.gate(id), undefined)
    yield* eventually(Effect.map(setUp.local.awaitInfo(id), (info) => info.status === "completed"), () => `${id} completes`)
    yield* eventually(Effect.map(setUp.admission.known, (known) => known < before), () => `a prune forgets the finished ${id}`)
  })

/** Asserts that task `id` was handed over: no longer held here, its record left pending. */
const handedOver = ({ local, store }: SetUp, id: string) =>
  Effect.gen(function*() {
    assert.isUndefined(Tasks.peek(local, id), `${id} no longer held here`)
    assert.deepInclude(Option.getOrThrow(yield* store.get(id)), { status: "pending" }, `${id} left pending for the shard's next holder`)
  })

describe("LocalAdmission.make: what the guards keep and refuse", () => {
  it.live("a task whose submission is under way, and then running, stays known through prunes and is handed over at the close", () =>
    withSetUp((setUp) =>
      Effect.gen(function*() {
        const { admission, local } = setUp
        const id = TaskInfo.makeId(Date.now())
        const entered = yield* Deferred.make<void>()
        const hold = yield* Deferred.make<void>()
        // released at the scope's close too: a failed assertion must not leave the submission waiting in the admission's
        // uninterruptible section (the test would hang to its timeout instead of failing with its message)
        yield* Effect.addFinalizer(() => Deferred.succeed(hold, undefined))
        const submitting = yield* Effect.forkChild(
          submitDirect(
            setUp,
            id,
            Deferred.succeed(entered, undefined).pipe(
              Effect.andThen(Deferred.await(hold)),
              Effect.andThen(local.submit(Gated, { gate: id }, { id }))
            )
          ),
          { startImmediately: true }
        )
        yield* Deferred.await(entered)
        // not recorded yet, so not held: a prune must keep it all the same
        yield* pruneAfterAnEnd(setUp, TaskInfo.makeId(Date.now()), 2)
        assert.strictEqual(yield* admission.known, 1, "the submission under way is still known")
        yield* Deferred.succeed(hold, undefined)
        assert.isTrue(Option.isSome(yield* Fiber.join(submitting)))
        yield* eventually(Effect.sync(() => Tasks.peek(local, id)?.status === "running"), () => `${id} runs`)
        // running: a prune must keep it too
        yield* pruneAfterAnEnd(setUp, TaskInfo.makeId(Date.now()), 2)
        assert.strictEqual(yield* admission.known, 1, "the running task is still known")
        assert.strictEqual(Tasks.peek(local, id)?.status, "running", "still running here: its guard stayed open")
        yield* admission.close
        yield* handedOver(setUp, id)
      })), { timeout: 60_000 })

  it.live("a task the supervisor let go of (handed off) is forgotten by the next prune", () =>
    withSetUp((setUp) =>
      Effect.gen(function*() {
        const { admission, local } = setUp
        const id = TaskInfo.makeId(Date.now())
        yield* admitGated(setUp, id)
        yield* eventually(Effect.sync(() => Tasks.peek(local, id)?.status === "running"), () => `${id} runs`)
        yield* local.handOff(id)
        assert.isUndefined(Tasks.peek(local, id))
        yield* eventually(Effect.map(admission.known, (known) => known === 0), () => `a prune forgets ${id}, no longer held`)
        // the prunes go on
        yield* pruneAfterAnEnd(setUp, TaskInfo.makeId(Date.now()), 1)
      })), { timeout: 60_000 })

  it.live("a failed submission of a known id leaves its task known; two submissions of one id at once forget it only once both ended and it finished", () =>
    withSetUp((setUp) =>
      Effect.gen(function*() {
        const { admission, gate, local } = setUp
        const known = TaskInfo.makeId(Date.now())
        yield* admitGated(setUp, known)
        const again = yield* Effect.exit(submitDirect(setUp, known, Effect.fail("refused")))
        assert.isTrue(Exit.isFailure(again))
        assert.strictEqual(yield* admission.known, 1, "the task admitted first is still known")
        // two submissions of one id under way at once, the first recorded, the second refused
        const twice = TaskInfo.makeId(Date.now())
        const first = yield* Deferred.make<void>()
        const second = yield* Deferred.make<void>()
        // released at the scope's close too (a failed assertion must not leave a submission waiting in the admission)
        yield* Effect.addFinalizer(() => Effect.andThen(Deferred.succeed(first, undefined), Deferred.succeed(second, undefined)))
        const one = yield* Effect.forkChild(
          submitDirect(setUp, twice, Effect.andThen(Deferred.await(first), local.submit(Gated, { gate: twice }, { id: twice }))),
          { startImmediately: true }
        )
        const two = yield* Effect.forkChild(
          submitDirect(setUp, twice, Effect.andThen(Deferred.await(second), Effect.fail("refused"))),
          { startImmediately: true }
        )
        yield* Deferred.succeed(first, undefined)
        assert.isTrue(Option.isSome(yield* Fiber.join(one)))
        yield* Deferred.succeed(second, undefined)
        assert.isTrue(Exit.isFailure(yield* Fiber.await(two)))
        assert.strictEqual(yield* admission.known, 2)
        yield* Deferred.succeed(gate(twice), undefined)
        yield* eventually(Effect.map(local.awaitInfo(twice), (info) => info.status === "completed"), () => `${twice} completes`)
        yield* eventually(Effect.map(admission.known, (n) => n === 1), () => `a prune forgets ${twice}, both its submissions ended`)
        yield* admission.close
        yield* handedOver(setUp, known)
      })), { timeout: 60_000 })

  it.live("a Hold sent again to a guarded shard, or after the close, is answered at once and opens no guard", () =>
    withSetUp(({ admission }) =>
      Effect.gen(function*() {
        const clientFor = yield* LocalAdmission.ShardGuard.client
        const seen = Effect.map(admission.guarded, (guarded) => `${guarded} guards open`)
        // `g/0` is the guard entity of its shard: the first id the runner hashed there
        yield* within(clientFor("g/0").Hold(undefined), "a Hold to a guarded shard answered", seen)
        yield* within(clientFor("g/0-again").Hold(undefined), "a Hold to another entity of a guarded shard answered", seen)
        assert.strictEqual(yield* admission.guarded, shards)
        yield* admission.close
        assert.strictEqual(yield* admission.guarded, 0)
        yield* within(clientFor("g/0").Hold(undefined), "a Hold after the close answered", seen)
        assert.strictEqual(yield* admission.guarded, 0, "no guard opened after the close")
      })), { timeout: 60_000 })

  it.live("a shard the cluster let go of admits nothing directly, though its guard has not ended yet", () =>
    withSetUp(({ admission, letGo, local, sharding }) =>
      Effect.gen(function*() {
        const id = TaskInfo.makeId(Date.now())
        const { entityId, shard } = placed(sharding, id)
        assert.isTrue(admission.admits(shard))
        letGo.add(shard.toString())
        assert.strictEqual(yield* admission.guarded, shards, "its guard still open")
        assert.isFalse(admission.admits(shard), "not held: not admitted directly")
        let ran = false
        const answer = yield* admission.submit(entityId, id, Effect.sync(() => (ran = true)).pipe(Effect.andThen(local.submit(Gated, { gate: id }, { id }))))
        assert.isTrue(Option.isNone(answer) && !ran, "takes the entity's path: nothing ran")
      })), { timeout: 60_000 })

  it.effect("none admits nothing and runs nothing", () =>
    Effect.gen(function*() {
      const { none } = LocalAdmission
      assert.isFalse(none.admits(ShardId.make("default", 1)))
      assert.isTrue(Option.isNone(yield* none.submit("b/1", "id", Effect.die(new Error("never run")))))
      assert.deepStrictEqual([yield* none.guarded, yield* none.known], [0, 0])
      yield* none.close
    }))

  it.effect("make refuses a wrapper of a supervisor, saying why: a defect naming it", () =>
    Effect.gen(function*() {
      const local = yield* Tasks.make.pipe(
        Effect.provideService(TasksConfig.TasksConfig, TasksConfig.make({ maxWorkers: 1 })),
        Effect.provideService(TaskStore.TaskStore, yield* TaskStore.makeMemory)
      )
      const exit = yield* Effect.exit(LocalAdmission.make({ ...local }, shards, OpenShards.make(() => true)))
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
      if (Exit.isFailure(exit)) assert.include(String(Cause.squash(exit.cause)), "`local` is not a supervisor Tasks.make built")
    }).pipe(Effect.scoped, Effect.provide(inMemorySharding)))
})
