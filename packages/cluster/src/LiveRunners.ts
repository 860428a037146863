/**
 * Whether another runner still runs a task, as the cluster's runner storage
 * tells: before a runner adopts a record that says another runner runs it, it
 * waits until that runner lets it go.
 *
 * Why: a shard lock can leave a runner that keeps running the shard's tasks.
 * effect's SQL runner storage holds every advisory lock of a runner on one
 * connection, and replaces that connection after one failed or late lock
 * operation, which drops every lock at once; the runner finds out at its next
 * lock refresh, up to a third of the lock expiry later, and only then stops
 * the tasks of those shards (handed over, left pending). A shard the cluster
 * has meanwhile assigned elsewhere (a runner joined, its release still under
 * way) is acquired there at once, and adopting a record still running on the
 * first runner would fail it as `lost`, or resume it, while it runs on: two
 * attempts at once. So a `running` record whose runner is another one that
 * the storage lists as alive and healthy is adopted only once it is no longer
 * `running` there (handed over, or finished), or once that runner is dead or
 * unhealthy. A dead runner is never waited for: the cluster assigns its shards
 * elsewhere only once it is unhealthy or its heartbeat lapsed, which is what
 * this reads. The wait is bounded (`letGoTimeout`): a runner restarted at the
 * same address is alive but does not run its predecessor's tasks, and the
 * runner storage cannot tell the two apart: PostgreSQL's registration of a
 * runner at an address already listed updates that row in place, machine id
 * and all, and `getRunners` answers addresses and health only. So after the
 * timeout the record is adopted all the same (warned): if the runner named
 * there is not a restarted one but a live one that never let the task go (a
 * runner paused longer than the lock expiry, say), its task runs twice.
 *
 * Every wait of a runner reads the runners from one snapshot, taken at most
 * once per `pollInterval` and shared (`getRunners` once a tick, not once per
 * waiting record: a runner that lost its lock connection loses every shard at
 * once, and its successor may wait for hundreds of records together).
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Exit, Option } from "effect"
import { type RunnerAddress, RunnerStorage } from "effect/cluster"
import { TaskError, type TaskInfo, TaskStore } from "@chainjobs/tasks"

/** How often a waiting adoption reads the record again, and how old the snapshot of the runners it reads may be. */
export const pollInterval = Duration.millis(100)

/** `host:port`: how a task's record names its runner (`TaskInfo.runner`). */
export const addressOf = (address: RunnerAddress.RunnerAddress): string => `${address.host}:${address.port}`

/** Waits, before an adoption, until no other live runner runs a task. */
export interface LiveRunners {
  /**
   * Returns once the task of `info` (as just read) may be adopted here: its record is not `running` on another
   * runner that is alive and healthy, or is gone, or `letGoTimeout` passed (logged). Fails if the store or the
   * runner storage cannot be read: the adoption leaves the task for its next look.
   */
  awaitLetGo(info: TaskInfo.TaskInfo): Effect.Effect<void, TaskError.TaskStoreError>
}

/**
 * The waits of runner `self` (`host:port`), over the cluster's runner storage and the task store; a wait gives up
 * after `letGoTimeout`: long enough for a live runner to see at its next lock refresh that its locks are gone and
 * hand its tasks over.
 */
export const make = Effect.fnUntraced(function*(self: string, letGoTimeout: Duration.Duration) {
  const storage = yield* RunnerStorage.RunnerStorage
  const store = yield* TaskStore.TaskStore
  const runsElsewhere = (info: TaskInfo.TaskInfo): info is TaskInfo.TaskInfo & { readonly runner: string } =>
    info.status === "running" && info.runner !== undefined && info.runner !== self
  // the live runners' addresses, one read shared by every wait for a tick; a failed read is not kept
  const liveAddresses = yield* storage.getRunners.pipe(
    Effect.map((runners) => new Set(runners.flatMap(([entry, healthy]) => healthy ? [addressOf(entry.address)] : []))),
    Effect.mapError((error) =>
      new TaskError.TaskStoreError({ operation: "adopt", detail: `cannot read the cluster's runners: ${String(error.cause)}`, cause: error })
    ),
    Effect.cachedWithTTL((exit) => Exit.isSuccess(exit) ? pollInterval : Duration.zero)
  )
  const alive = (runner: string) => Effect.map(liveAddresses, (addresses) => addresses.has(runner))
  const live: LiveRunners = {
    awaitLetGo: (first) =>
      Effect.gen(function*() {
        const started = yield* Clock.currentTimeMillis
        let info = first
        while (runsElsewhere(info) && (yield* alive(info.runner))) {
          const waited = (yield* Clock.currentTimeMillis) - started
          if (waited >= Duration.toMillis(letGoTimeout)) {
            return yield* Effect.logWarning(
              `Adopting task ${info.id} though its record still says runner ${info.runner}, alive, runs it: ` +
                `${Duration.format(letGoTimeout)} passed (restarted at the same address?)`
            )
          }
          yield* Effect.sleep(pollInterval)
          const read = yield* store.get(info.id)
          if (Option.isNone(read)) return
          info = read.value
        }
      })
  }
  return live
})
