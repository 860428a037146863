/**
 * Where an unkeyed task submitted on a runner goes (`RunnerSettings.placement`).
 *
 * `shard`: on the shard its id hashes to (`TaskEntity.placement`, a bucket of
 * the id), whichever runner holds it: tasks spread over every runner, and most
 * of them cross to another one (a `Submit` round trip, the join's wait through
 * the feed), about 1.2–2 ms of CPU more each, so that a runner added made
 * the cluster slower (0.52× the throughput of one runner with 2 runners).
 *
 * `local` (the default, `RunnerConfig.defaultPlacement`; `shard` without
 * direct admission): while this runner has a worker free for the task (running and
 * waiting tasks fewer than `maxWorkers`, and its kind under its concurrency),
 * the task goes on a shard this runner holds and admits directly
 * (`LocalAdmission.admits`: its guard open, its unfinished tasks adopted), so
 * its own supervisor admits it, no message. Its shard is still the one its id
 * hashes to — the runner that acquires the shard after a failover finds the
 * record by it, and one owner per task holds as before — so the placement
 * chooses the id: a new id (a UUID v7, made as every id, in time order) whose
 * last four hex digits, 16 of its 62 random bits, are tried from their own
 * value on until the id's bucket is on such a shard (`idInBucket`). A task
 * given its id by its caller, a keyed task (it follows its key, where its
 * exclusive-key rules hold cluster-wide), a runner with no worker free, or one
 * admitting no bucket's shard directly: placed as `shard` places it.
 *
 * The free worker is read just before the supervisor's admission counts the
 * task in (`ClusterTasks` submits right after, with no wait of its own
 * between; the run loop may yield there, rarely): concurrent submissions see
 * each other's workers taken, and one that loses the race queues on this
 * runner.
 *
 * @since 0.1.0
 */
import { Clock, Effect } from "effect"
import { Sharding } from "effect/cluster"
import { type Task, Tasks } from "@chainjobs/tasks"
import type { LocalAdmission } from "./LocalAdmission.ts"
import * as TaskEntity from "./TaskEntity.ts"

/** Chooses the id of a new unkeyed task submitted on this runner, and with it the task's shard. */
export interface LocalPlacement {
  /**
   * The id a new unkeyed task of kind `kind` takes, `made` being the id made for it (a UUID v7): `made` itself
   * (spread by its hash), or `made` with its last four hex digits chosen so that this runner admits it directly.
   */
  place(kind: Task.Any, made: string): Effect.Effect<string>
}

/** Placement `shard`: every task keeps the id made for it, spread over every runner by its hash. */
export const spread: LocalPlacement = { place: (_, made) => Effect.succeed(made) }

/** How long the count of buckets this runner admits directly is kept before it is counted again, in ms. */
export const countKept = 100

/** How many endings of an id `idInBucket` tries at most: every bucket is reachable within them. */
export const endings = 4096

/**
 * `made` with its last four hex digits replaced, trying from their own value on (mod 2^16), by the first ending whose
 * id falls in a bucket `wanted` takes (`TaskEntity.placement`); undefined if none of `endings` endings does.
 */
export const idInBucket = (made: string, wanted: (bucket: number) => boolean): string | undefined => {
  const prefix = made.slice(0, -4)
  const start = Number.parseInt(made.slice(-4), 16)
  if (!Number.isInteger(start)) return undefined
  const prefixHash = TaskEntity.hash(prefix)
  for (let i = 0; i < endings; i++) {
    const ending = ((start + i) & 0xffff).toString(16).padStart(4, "0")
    // its own ending first: the id made, as it is
    if (wanted(TaskEntity.bucketOf(TaskEntity.hashOn(prefixHash, ending)))) return i === 0 ? made : prefix + ending
  }
  return undefined
}

/**
 * Placement `local` over the runner's own supervisor (`local`, whose workers it counts: the supervisor
 * `Tasks.make` built, read synchronously through `Tasks.freeWorker`, no wrapper of it) and its direct admission
 * (`admission`, whose shards it places on).
 */
export const make = Effect.fnUntraced(function*(local: Tasks.Tasks["Service"], admission: LocalAdmission) {
  const freeWorker = Tasks.freeWorker(local)
  if (freeWorker === undefined) {
    return yield* Effect.die(new Error("LocalPlacement.make: `local` is not a supervisor Tasks.make built"))
  }
  const sharding = yield* Sharding.Sharding
  const clock = yield* Clock.Clock
  const shardOfBucket = Array.from(
    { length: TaskEntity.buckets },
    (_, bucket) => TaskEntity.shardOf(sharding, TaskEntity.bucketEntity(bucket))
  )
  const here = (bucket: number) => admission.admits(shardOfBucket[bucket])
  // How many buckets this runner admitted directly when last counted, and when: none, and no id is searched for.
  let admitted = 0
  let countedAt = Number.NEGATIVE_INFINITY
  const anyHere = () => {
    const now = clock.currentTimeMillisUnsafe()
    if (now - countedAt >= countKept) {
      countedAt = now
      admitted = 0
      for (let bucket = 0; bucket < TaskEntity.buckets; bucket++) if (here(bucket)) admitted++
    }
    return admitted > 0
  }
  const placement: LocalPlacement = {
    // read when run, from memory only: the supervisor's counts (no stats record built), the count of shards here
    place: (kind, made) => Effect.sync(() => freeWorker(kind) && anyHere() ? idInBucket(made, here) ?? made : made)
  }
  return placement
})
