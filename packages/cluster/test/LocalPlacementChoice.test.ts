/**
 * What `LocalPlacement.make` chooses for one runner, alone: a real supervisor
 * (`Tasks.make`, the memory store) whose workers it counts, the shard ids of
 * effect's in-memory sharding (`TestRunner.layer`, the same `getShardId` as a
 * runner's), and a table of the shards this runner admits directly in place
 * of a runner's guards (`LocalAdmission`'s `admits`, set by the test).
 *
 * `LocalPlacement.test.ts` places tasks on two real runners; each of its
 * tests takes seconds. These take milliseconds, so a mutation run can afford
 * them for every mutant of the placement: a worker free or not (running and
 * waiting tasks against `maxWorkers`, a kind at its concurrency), a shard
 * admitted or not, and the count of admitted shards kept `countKept` ms.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Schema, type Scope } from "effect"
import { Sharding, TestRunner } from "effect/cluster"
import { TestClock } from "effect/testing"
import { LocalAdmission, LocalPlacement, TaskEntity } from "@chainjobs/cluster"
import { Task, TaskInfo, Tasks, TasksConfig, TaskStore } from "@chainjobs/tasks"

/** Two at a time at most: a third waits though workers are free. */
const Narrow = Task.define("narrow", { payload: Schema.Struct({}), success: Schema.Void, policy: { concurrency: 2 } })
/** No limit of its own. */
const Wide = Task.define("wide", { payload: Schema.Struct({}), success: Schema.Void })

/** The workers of the supervisor: a handful, so that a few tasks take them. */
const maxWorkers = 3

/** The shard of the bucket an id falls in (where the task entity's `placement` puts an unkeyed task). */
const shardOfId = (sharding: Sharding.Sharding["Service"], id: string) =>
  TaskEntity.shardOf(sharding, TaskEntity.placement({ id, kind: "wide", key: null })).toString()

/**
 * A supervisor whose tasks wait for `release`, the placement over it, and the table of shards admitted here
 * (`admitted`, empty at first).
 */
const setUp = Effect.gen(function*() {
  const release = yield* Deferred.make<void>()
  const local = yield* Tasks.make.pipe(
    Effect.provideService(TasksConfig.TasksConfig, TasksConfig.make({ maxWorkers, shutdownGracePeriod: 0 })),
    Effect.provideService(TaskStore.TaskStore, yield* TaskStore.makeMemory)
  )
  for (const kind of [Narrow, Wide]) yield* local.register(kind, () => Deferred.await(release), Context.empty())
  const sharding = yield* Sharding.Sharding
  const admitted = new Set<string>()
  const admission: LocalAdmission.LocalAdmission = {
    ...LocalAdmission.none,
    admits: (shard) => admitted.has(shard.toString())
  }
  const placement = yield* LocalPlacement.make(local, admission)
  return { local, sharding, admitted, placement, release }
})

type SetUp = Effect.Success<typeof setUp>

/** Waits (a bounded number of turns) until the supervisor counts `running` and `pending`, saying what it saw if never. */
const counts = (local: SetUp["local"], running: number, pending: number) =>
  Effect.gen(function*() {
    let seen = {}
    for (let turn = 0; turn < 1000; turn++) {
      const stats = yield* local.stats
      if (stats.running === running && stats.pending === pending) return
      seen = { running: stats.running, pending: stats.pending }
      yield* Effect.yieldNow
    }
    return yield* Effect.die(new Error(`the supervisor never counted ${running} running, ${pending} waiting: ${JSON.stringify(seen)}`))
  })

/** The shard of bucket `bucket`. */
const shardOfBucket = ({ sharding }: SetUp, bucket: number) =>
  TaskEntity.shardOf(sharding, TaskEntity.bucketEntity(bucket)).toString()

/** A made id and a shard other than its own, admitted here: where a placed id must go. */
const admitOther = ({ admitted, sharding }: SetUp, made: string) => {
  const own = shardOfId(sharding, made)
  // a made id's random part decides its shard, so another made id may share the first's: draw until one does not
  let other = own
  for (let draw = 0; other === own && draw < 1000; draw++) {
    other = shardOfId(sharding, TaskInfo.makeId(1_760_000_000_000 + 77))
  }
  assert.notStrictEqual(other, own, "the two ids fall on different shards")
  admitted.add(other)
  return other
}

/** Runs `body` over a set-up on the in-memory sharding, its supervisor closed after. */
const withSetUp = <A, E>(body: (setUp: SetUp) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.gen(function*() {
    const made = yield* setUp
    return yield* Effect.ensuring(body(made), Deferred.succeed(made.release, undefined))
  }).pipe(Effect.scoped, Effect.provide(TestRunner.layer))

describe("LocalPlacement.make on one runner", () => {
  it.effect("with a worker free, the id is chosen onto a shard admitted here; with none admitted, the id made is kept", () =>
    withSetUp((setUp) =>
      Effect.gen(function*() {
        const made = TaskInfo.makeId(1_760_000_000_000)
        assert.strictEqual(yield* setUp.placement.place(Wide, made), made, "no shard is admitted here")
        yield* TestClock.adjust(LocalPlacement.countKept)
        const shard = admitOther(setUp, made)
        const placed = yield* setUp.placement.place(Wide, made)
        assert.notStrictEqual(placed, made)
        assert.strictEqual(shardOfId(setUp.sharding, placed), shard)
        // the first ending from its own on whose bucket is on that shard
        assert.strictEqual(placed, LocalPlacement.idInBucket(made, (bucket) => shardOfBucket(setUp, bucket) === shard))
      })))

  it.effect("running and waiting tasks both take workers: the id made is kept once they reach maxWorkers, whatever the kind", () =>
    withSetUp((setUp) =>
      Effect.gen(function*() {
        const made = TaskInfo.makeId(1_760_000_000_000)
        const shard = admitOther(setUp, made)
        // two narrow tasks run: 2 of 3 workers taken, one free
        for (let i = 0; i < 2; i++) yield* setUp.local.submit(Narrow, {})
        yield* counts(setUp.local, 2, 0)
        assert.strictEqual(shardOfId(setUp.sharding, yield* setUp.placement.place(Wide, made)), shard, "running 2 of 3 workers")
        // a third waits for its kind: 3 of 3 workers counted, though only 2 run
        yield* setUp.local.submit(Narrow, {})
        yield* counts(setUp.local, 2, 1)
        assert.strictEqual(yield* setUp.placement.place(Wide, made), made, "running 2 + waiting 1 of 3 workers")
      })))

  it.effect("a kind at its concurrency keeps the id made while workers are free; another kind is placed here", () =>
    withSetUp((setUp) =>
      Effect.gen(function*() {
        const made = TaskInfo.makeId(1_760_000_000_000)
        const shard = admitOther(setUp, made)
        // one narrow task runs: under its limit of 2
        yield* setUp.local.submit(Narrow, {})
        yield* counts(setUp.local, 1, 0)
        assert.strictEqual(shardOfId(setUp.sharding, yield* setUp.placement.place(Narrow, made)), shard, "narrow: 1 of 2 running")
        // two run: the kind is at its limit, one worker of 3 is still free
        yield* setUp.local.submit(Narrow, {})
        yield* counts(setUp.local, 2, 0)
        assert.strictEqual(yield* setUp.placement.place(Narrow, made), made, "narrow: 2 of 2 running")
        assert.strictEqual(shardOfId(setUp.sharding, yield* setUp.placement.place(Wide, made)), shard, "wide: none of its kind running")
      })))

  it.effect("the count of shards admitted here is kept countKept ms: a shard admitted meanwhile is placed on from the next count", () =>
    withSetUp((setUp) =>
      Effect.gen(function*() {
        const made = TaskInfo.makeId(1_760_000_000_000)
        assert.strictEqual(yield* setUp.placement.place(Wide, made), made, "counted at 0: none admitted")
        const shard = admitOther(setUp, made)
        yield* TestClock.adjust(LocalPlacement.countKept - 1)
        assert.strictEqual(yield* setUp.placement.place(Wide, made), made, "the count of 0 is still kept")
        yield* TestClock.adjust(1)
        assert.strictEqual(shardOfId(setUp.sharding, yield* setUp.placement.place(Wide, made)), shard, "counted again")
      })))

  it.effect("an id not ending in four hex digits gets no other ending: it is placed as made", () =>
    withSetUp((setUp) =>
      Effect.gen(function*() {
        const made = `${TaskInfo.makeId(1_760_000_000_000).slice(0, -4)}zz0z`
        assert.isUndefined(LocalPlacement.idInBucket(made, () => true))
        admitOther(setUp, TaskInfo.makeId(1_760_000_000_000))
        for (let bucket = 0; bucket < TaskEntity.buckets; bucket++) setUp.admitted.add(shardOfBucket(setUp, bucket))
        assert.strictEqual(yield* setUp.placement.place(Wide, made), made)
      })))

  it("tries at most `endings` endings: a bucket wanted only at the next one is not reached", () => {
    const made = TaskInfo.makeId(1_760_000_000_000)
    let asked = 0
    assert.isUndefined(LocalPlacement.idInBucket(made, () => ++asked > LocalPlacement.endings))
    assert.strictEqual(asked, LocalPlacement.endings)
  })
})
