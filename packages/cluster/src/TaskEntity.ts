/**
 * The cluster entity that hosts task execution. Its id is a task's shard
 * identity (`placement`): the kind and key of a keyed task, so that one key's
 * tasks meet on the runner owning that shard and its exclusive-key rules hold
 * cluster-wide; a bucket of the task id otherwise, which spreads unkeyed tasks
 * over every runner.
 *
 * Three messages reach the runner owning the shard:
 * - `Submit` (volatile) admits a task there: the owner's supervisor checks the
 *   key, records the task and starts it, then sends itself `Run`.
 * - `Run` (persisted, one per task id) is the durable hand-off: it stays
 *   unprocessed until the task has finished, so when its runner dies or hands
 *   its shards over the cluster delivers it again to the next owner, which
 *   adopts the record (resumed from its checkpoint, or failed as `lost`, as the
 *   kind says).
 * - `Interrupt` (volatile) stops the task where it runs; its finalizers run on
 *   the owner.
 *
 * @since 0.1.0
 */
import { Effect, Schedule, Schema } from "effect"
import { ClusterSchema, Entity } from "effect/cluster"
import { Rpc } from "effect/rpc"
import { TaskError, TaskInfo, type Tasks } from "@chainjobs/tasks"

/** The number of buckets unkeyed tasks are spread over: each is one entity, kept while busy, so a steady stream of tasks reuses them instead of starting one per task. */
export const buckets = 256

/** A small, stable hash of a string (FNV-1a, 32 bits). */
const hash = (text: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** The entity id of a task: `k/<kind>/<key>` for a keyed task, `b/<bucket of its id>` otherwise. */
export const placement = (task: { readonly id: string; readonly kind: string; readonly key: string | null }): string =>
  task.key === null ? `b/${hash(task.id) % buckets}` : `k/${task.kind}/${task.key}`

/** The errors a submission can meet on the owner. */
export const SubmitError = Schema.Union([
  TaskError.InvalidPayload,
  TaskError.SubmitRejected,
  TaskError.UnknownTaskKind,
  TaskError.TaskStoreError
])

/** Admits a task on the shard owner; answers the id of the task standing for it (another one's when it joined). */
export const Submit = Rpc.make("Submit", {
  payload: {
    id: Schema.String,
    kind: Schema.String,
    /** The payload, encoded through the kind's Schema. */
    payload: Schema.Unknown,
    priority: Schema.optional(Schema.Number),
    owner: Schema.optional(Schema.String),
    onConflict: Schema.optional(Schema.Literals(["reject", "join", "queue"]))
  },
  success: Schema.Struct({ id: Schema.String }),
  error: SubmitError
})

/**
 * Runs a recorded task to its end on the shard owner; persisted, so it outlives
 * the runner it was sent to. When the shard moves, it is interrupted at once
 * (the task stops at its checkpoint) and delivered again to the next owner.
 */
export const Run = Rpc.make("Run", {
  payload: { id: Schema.String },
  primaryKey: ({ id }) => id
}).annotate(ClusterSchema.Persisted, true).annotate(ClusterSchema.InterruptOnTermination, true)

/** Interrupts a task where it runs and waits until it has stopped. */
export const Interrupt = Rpc.make("Interrupt", {
  payload: { id: Schema.String },
  error: Schema.Union([TaskError.TaskNotFound, TaskError.TaskStoreError])
})

/** The entity type: every runner registers it, the cluster routes its messages by shard. */
export const TaskEntity = Entity.make("chainjobs/Task", [Submit, Run, Interrupt])

/** How often a `Run` whose record could not be read is tried again before the cluster's own retry takes over. */
const storeRetry = Schedule.exponential("100 millis").pipe(Schedule.upTo({ times: 5 }))

/** A runner's side of the entity: its supervisor, the tasks whose `Run` it is serving, and whether it is closing. */
export interface Host {
  readonly local: Tasks.Tasks["Service"]
  /** Ids of the tasks whose `Run` is being served here. */
  readonly serving: Set<string>
  /** Refuses new work from now on and hands every served task over (stopped at its checkpoint, left pending). */
  readonly close: Effect.Effect<void>
  readonly closing: () => boolean
}

/** The entity's host over the runner's own supervisor (`local`). */
export const make = (local: Tasks.Tasks["Service"]): Host => {
  const serving = new Set<string>()
  let closing = false
  return {
    local,
    serving,
    closing: () => closing,
    close: Effect.suspend(() => {
      closing = true
      return Effect.forEach(Array.from(serving), (id) => local.handOff(id), { concurrency: "unbounded", discard: true })
    })
  }
}

const shuttingDown = (kind: string) =>
  new TaskError.SubmitRejected({ kind, reason: "shutting-down" })

/**
 * The entity's handlers on a runner. Every message runs concurrently: a key's
 * or a bucket's tasks do not wait for each other here, the supervisor's limits
 * decide.
 */
export const layer = (host: Host) =>
  TaskEntity.toLayer(
    Effect.gen(function*() {
      const clientFor = yield* TaskEntity.client
      const { local, serving } = host
      return TaskEntity.of({
        Submit: ({ payload: request }) =>
          Effect.gen(function*() {
            if (host.closing()) return yield* shuttingDown(request.kind)
            const handle = yield* local.submitEncoded(request.kind, request.payload, {
              id: request.id,
              priority: request.priority,
              owner: request.owner,
              onConflict: request.onConflict
            })
            // Joined another task: that one has its `Run` already.
            if (handle.id !== request.id) return { id: handle.id }
            const info = yield* Effect.orDie(handle.info)
            yield* Effect.orDie(clientFor(placement(info)).Run({ id: info.id }, { discard: true }))
            return { id: info.id }
          }),
        Run: ({ payload: { id } }) =>
          Effect.gen(function*() {
            // Closing: the message stays unprocessed for the runner that takes the shard.
            if (host.closing()) return yield* Effect.never
            serving.add(id)
            const adopted = yield* local.adopt(id).pipe(
              Effect.retry({ schedule: storeRetry, while: (error) => error._tag === "TaskStoreError" }),
              Effect.as(true),
              Effect.catchTag("TaskNotFound", () => Effect.succeed(false)),
              Effect.orDie
            )
            if (!adopted) return
            const info = yield* Effect.orDie(local.awaitInfo(id))
            // Handed off, not finished: the message stays unprocessed for the next owner.
            if (!TaskInfo.isTerminal(info.status)) return yield* Effect.never
          }).pipe(
            Effect.onInterrupt(() => local.handOff(id)),
            Effect.ensuring(Effect.sync(() => serving.delete(id)))
          ),
        Interrupt: ({ payload: { id } }) => Effect.andThen(local.adopt(id), local.interrupt(id))
      })
    }),
    { concurrency: "unbounded", maxIdleTime: "1 minute" }
  )
