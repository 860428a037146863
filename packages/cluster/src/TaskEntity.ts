/**
 * The cluster entity that hosts task execution. Its id is a task's shard
 * identity (`placement`): the kind and key of a keyed task, so that one key's
 * tasks meet on the runner owning that shard and its exclusive-key rules hold
 * cluster-wide; a bucket of the task id otherwise, which spreads unkeyed tasks
 * over every runner.
 *
 * Five messages reach the runner owning the shard, all volatile:
 * - `Submit` admits a task there, once the shard is open (`OpenShards`): the
 *   owner's supervisor checks the key, records the task and starts it. Under
 *   the shard's guard where one is open (`LocalAdmission`, which hands it over
 *   when the shard moves); else the entity knows it and sends itself `Run`.
 * - `Adopt` takes over an unfinished record of a shard just acquired (its key
 *   held here from then on), then sends itself `Run`.
 * - `Run` serves a task until it has finished, keeping its entity alive.
 * - `Interrupt` stops the task where it runs; its finalizers run on the owner.
 * - `Await` waits on the owner for a task to finish (a handle's `join` waits
 *   for its final record through the feed, and asks the owner only should
 *   the feed end first: `ClusterTasks.awaitInfo`).
 *
 * The durable hand-off is the task's record, not a message: when a shard
 * moves, its entities end and hand their tasks over (stopped at their
 * checkpoint, left pending) before the shard's lock is released, and the
 * runner that acquires the shard sends `Adopt` for every unfinished record
 * placed on it (`adoption`): resumed from its checkpoint, or failed as `lost`,
 * as the kind says. Only once all are adopted does the shard open to new
 * submissions. After `kill -9` the dead runner's shard locks free with its
 * database session and the same adoption takes its tasks over. The shard
 * locks keep every task on one runner at a time.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Exit, FiberMap, Option, Schedule, Schema } from "effect"
import { ClusterSchema, Entity, EntityId, Sharding, ShardId } from "effect/cluster"
import { Rpc } from "effect/rpc"
import { TaskError, type TaskHandle, TaskInfo, Tasks, TaskStore } from "@chainjobs/tasks"
import type * as LiveRunners from "./LiveRunners.ts"
import { NotAdmitted } from "./NotAdmitted.ts"
import * as OpenShards from "./OpenShards.ts"

/** The number of buckets unkeyed tasks are spread over: each is one entity, kept while busy, so a steady stream of tasks reuses them instead of starting one per task. */
export const buckets = 256

/**
 * FNV-1a (32 bits) of `text` continued from `h`, the hash of what came before it: the hash of a prefix taken on by
 * each of several endings (`LocalPlacement` trying the last digits of an id) without hashing the prefix again.
 */
export const hashOn = (h: number, text: string): number => {
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** A small, stable hash of a string (FNV-1a, 32 bits). */
export const hash = (text: string): number => hashOn(0x811c9dc5, text)

/** The bucket of an unkeyed task whose id hashes to `idHash`: its entity is `b/<bucket>` (`placement`). */
export const bucketOf = (idHash: number): number => idHash % buckets

/** The entity id of bucket `bucket`, where the unkeyed tasks whose ids fall in it go. */
export const bucketEntity = (bucket: number): string => `b/${bucket}`

/** Whether `entityId` is a bucket's (`bucketEntity`): one of `buckets` entity ids, unlike a key's. */
export const isBucketEntity = (entityId: string): boolean => entityId.startsWith("b/")

/** The entity id of a task: `k/<kind>/<key>` for a keyed task, `b/<bucket of its id>` otherwise. */
export const placement = (task: { readonly id: string; readonly kind: string; readonly key: string | null }): string =>
  task.key === null ? bucketEntity(bucketOf(hash(task.id))) : `k/${task.kind}/${task.key}`

/** The errors a submission can meet on the owner; `NotAdmitted`: refused before anything was recorded. */
export const SubmitError = Schema.Union([
  TaskError.InvalidPayload,
  TaskError.SubmitRejected,
  TaskError.UnknownTaskKind,
  TaskError.TaskStoreError,
  NotAdmitted
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
    onConflict: Schema.optional(Schema.Literals(["reject", "join", "queue"])),
    timeoutMillis: Schema.optional(Schema.Number),
    heartbeatTimeoutMillis: Schema.optional(Schema.Number),
    retries: Schema.optional(Schema.Number)
  },
  success: Schema.Struct({ id: Schema.String }),
  error: SubmitError
})

/**
 * Runs a recorded task to its end on the shard owner, keeping its entity
 * alive meanwhile. Volatile: the durable hand-off is the task's record, not
 * this message. When the shard moves it is interrupted at once (the task
 * stops at its checkpoint, left pending), and the runner that takes the shard
 * sends `Run` again for every unfinished record of it (`adoption`).
 */
export const Run = Rpc.make("Run", {
  payload: { id: Schema.String }
}).annotate(ClusterSchema.InterruptOnTermination, true)

/**
 * Takes over an unfinished record of a shard this runner has just acquired
 * (`adoption`), then serves it (`Run`). Answers once the local supervisor holds
 * it (or it was found finished or gone): what the shard's opening waits for.
 */
export const Adopt = Rpc.make("Adopt", {
  payload: { id: Schema.String },
  error: TaskError.TaskStoreError
})

/** Interrupts a task where it runs and waits until it has stopped. */
export const Interrupt = Rpc.make("Interrupt", {
  payload: { id: Schema.String },
  error: Schema.Union([TaskError.TaskNotFound, TaskError.TaskStoreError])
})

/**
 * Waits on the owner until a task held there has finished and answers its
 * record; answers at once the stored record of a task not held there (the
 * caller reads again later). Interrupted when the shard moves.
 */
export const Await = Rpc.make("Await", {
  payload: { id: Schema.String },
  success: TaskInfo.TaskInfo,
  error: Schema.Union([TaskError.TaskNotFound, TaskError.TaskStoreError])
}).annotate(ClusterSchema.InterruptOnTermination, true)

/** The entity type: every runner registers it, the cluster routes its messages by shard. */
export const TaskEntity = Entity.make("chainjobs/Task", [Submit, Adopt, Run, Interrupt, Await])

/** The shard group of the task entity (it does not depend on the id): where every task's shard is counted. */
export const shardGroup = TaskEntity.getShardGroup(EntityId.make(""))

/** The shard of the task entity `entityId` (a task's `placement`). */
export const shardOf = (sharding: Sharding.Sharding["Service"], entityId: string): ShardId.ShardId =>
  sharding.getShardId(EntityId.make(entityId), shardGroup)

/** How often a `Run` whose record could not be read is tried again before giving the task up to the next adoption. */
const storeRetry = Schedule.exponential("100 millis").pipe(Schedule.upTo({ times: 5 }))

/**
 * A runner's side of the entity: its supervisor, its open shards, the tasks whose `Run` it is serving, and whether
 * it is closing.
 */
export interface Host {
  readonly local: Tasks.Tasks["Service"]
  /** The shards held here whose unfinished records are adopted: only they admit new submissions. */
  readonly openShards: OpenShards.OpenShards
  /** What an adoption waits for first: no other live runner still running the task. */
  readonly live: LiveRunners.LiveRunners
  /** Ids of the tasks whose `Run` is being served here. */
  readonly serving: Set<string>
  /**
   * Tasks this runner's supervisor admitted (`Submit`) whose `Run` has not been served yet. One that has finished
   * meanwhile (a short task often ends before its `Run` arrives) is served without reading its record back: the
   * supervisor's memory tells (`Tasks.peek`), no follower of its changes.
   */
  readonly admittedHere: Set<string>
  /** Refuses new work from now on and hands every served task over (stopped at its checkpoint, left pending). */
  readonly close: Effect.Effect<void>
  readonly closing: () => boolean
}

/**
 * The entity's host over the runner's own supervisor (`local`: the supervisor `Tasks.make` built, whose memory
 * `Tasks.peek` reads; a wrapper of it works, reading the store where `peek` cannot answer); its adoptions wait for
 * other runners to let their tasks go (`live`).
 */
export const make = Effect.fnUntraced(function*(local: Tasks.Tasks["Service"], live: LiveRunners.LiveRunners) {
  const sharding = yield* Sharding.Sharding
  const openShards = OpenShards.make((shard) => sharding.hasShardId(shard))
  const serving = new Set<string>()
  const admittedHere = new Set<string>()
  let closing = false
  const host: Host = {
    local,
    live,
    openShards,
    serving,
    admittedHere,
    closing: () => closing,
    close: Effect.suspend(() => {
      closing = true
      return Effect.forEach(Array.from(serving), (id) => local.handOff(id), { concurrency: "unbounded", discard: true })
    })
  }
  return host
})

const shuttingDown = (kind: string) =>
  new TaskError.SubmitRejected({ kind, reason: "shutting-down" })

const notOpened = (id: string, shard: ShardId.ShardId, waitedMillis: number) =>
  new NotAdmitted({ id, shard: shard.toString(), waitedMillis })

/**
 * Hands tasks held here over (`Tasks.handOff`) with their shard closed before, throughout and after
 * (`OpenShards.closedWhile`): a submission waits meanwhile, an adoption that finds a task still stopping (and so adopts
 * nothing) cannot open the shard before the task is let go, and the next adoption reads the shard's records again,
 * however soon it is held again.
 */
export const handOver = (host: Pick<Host, "local" | "openShards">, shard: ShardId.ShardId, ids: Iterable<string>) =>
  host.openShards.closedWhile(
    shard,
    Effect.suspend(() => Effect.forEach(ids, (id) => host.local.handOff(id), { concurrency: "unbounded", discard: true }))
  )

/**
 * Admits a submission under this runner's guard of its shard (`LocalAdmission.submit`): `submit` runs and its handle
 * comes back in `Some` while the guard is open here; `None`, and nothing ran, otherwise.
 */
export type GuardedAdmission = <E>(
  entityId: string,
  id: string,
  submit: Effect.Effect<TaskHandle.TaskHandle<any, any>, E>
) => Effect.Effect<Option.Option<TaskHandle.TaskHandle<any, any>>, E>

/** Admits nothing under a guard: every `Submit` is served by its entity. */
const unguarded: GuardedAdmission = () => Effect.succeed(Option.none())

/**
 * The entity's handlers on a runner. Every message runs concurrently: a key's
 * or a bucket's tasks do not wait for each other here, the supervisor's limits
 * decide. An entity hands over every task it admitted when it ends (its shard
 * moved), also one whose `Run` never arrived. A `Submit` whose shard's guard is
 * open here (`guarded`, the runner's direct admission) is admitted under that
 * guard, as a submission made on this runner is: the guard hands it over when
 * the shard moves, and no `Run` message follows it.
 */
export const layer = (host: Host, guarded: GuardedAdmission = unguarded) =>
  TaskEntity.toLayer(
    Effect.gen(function*() {
      const address = yield* Entity.CurrentAddress
      const sharding = yield* Sharding.Sharding
      const self = (yield* TaskEntity.client)(address.entityId)
      const { local, serving } = host
      const admitted = new Set<string>()
      yield* Effect.addFinalizer(() =>
        Effect.suspend(() => {
          const ids = Array.from(admitted)
          ids.forEach((id) => host.admittedHere.delete(id))
          // Nothing handed over, shard still held (an idle entity's end): its records stay adopted.
          return ids.length === 0 && sharding.hasShardId(address.shardId)
            ? Effect.void
            : handOver(host, address.shardId, ids)
        })
      )
      const serve = (id: string) =>
        Effect.gen(function*() {
          const admittedHere = host.admittedHere.has(id)
          // Admitted here and finished already: nothing to wait for, nothing to read back.
          if (admittedHere && TaskInfo.isTerminal(Tasks.peek(local, id)?.status ?? "pending")) return
          const adopted = admittedHere || (yield* local.adopt(id).pipe(
            Effect.retry({ schedule: storeRetry, while: (error) => error._tag === "TaskStoreError" }),
            Effect.as(true),
            Effect.catchTag("TaskNotFound", () => Effect.succeed(false)),
            Effect.orDie
          ))
          if (!adopted) return
          // A record gone (deleted once it ended, and no longer in the supervisor's memory): nothing to serve.
          const info = yield* Effect.orDie(Effect.catchTag(local.awaitInfo(id), "TaskNotFound", () => Effect.succeed(undefined)))
          // Handed off, not finished: the shard is moving and ends this entity.
          if (info !== undefined && !TaskInfo.isTerminal(info.status)) return yield* Effect.never
        }).pipe(
          Effect.onInterrupt(() => handOver(host, address.shardId, [id])),
          Effect.ensuring(Effect.sync(() => {
            serving.delete(id)
            admitted.delete(id)
            host.admittedHere.delete(id)
          }))
        )
      return TaskEntity.of({
        Submit: ({ payload: request }) =>
          Effect.gen(function*() {
            if (host.closing()) return yield* shuttingDown(request.kind)
            // Not before the shard's unfinished tasks hold their keys here (`OpenShards`).
            const asked = yield* Clock.currentTimeMillis
            if (!(yield* host.openShards.whenOpen(address.shardId))) {
              return yield* notOpened(request.id, address.shardId, (yield* Clock.currentTimeMillis) - asked)
            }
            if (host.closing()) return yield* shuttingDown(request.kind)
            const options = {
              id: request.id,
              priority: request.priority,
              owner: request.owner,
              onConflict: request.onConflict,
              timeoutMillis: request.timeoutMillis,
              heartbeatTimeoutMillis: request.heartbeatTimeoutMillis,
              retries: request.retries
            }
            const direct = yield* guarded(address.entityId, request.id, local.submitEncoded(request.kind, request.payload, options))
            if (Option.isSome(direct)) return { id: direct.value.id }
            // Known from before its submission: its end may come before `submitEncoded` returns (its `Run` then reads the
            // supervisor's memory, `Tasks.peek`).
            host.admittedHere.add(request.id)
            // Known to this entity from before its insert: if the entity ends meanwhile (its shard moved), the
            // hand-over includes it, and the supervisor stores it pending instead of starting it here.
            admitted.add(request.id)
            const handle = yield* local.submitEncoded(request.kind, request.payload, options).pipe(Effect.tapError(() =>
              Effect.sync(() => {
                host.admittedHere.delete(request.id)
                admitted.delete(request.id)
              })
            ))
            // Joined another task: that one has its `Run` already.
            if (handle.id !== request.id) {
              host.admittedHere.delete(request.id)
              admitted.delete(request.id)
              return { id: handle.id }
            }
            yield* Effect.orDie(self.Run({ id: handle.id }, { discard: true }))
            return { id: handle.id }
          }),
        Adopt: ({ payload: { id } }) =>
          Effect.gen(function*() {
            // Closing: the next owner adopts it.
            if (host.closing() || serving.has(id)) return
            // Known to this entity from now on: handed over with it, also before its `Run` arrives.
            admitted.add(id)
            const adopted = yield* local.adopt(id).pipe(
              Effect.retry({ schedule: storeRetry, while: (error) => error._tag === "TaskStoreError" }),
              Effect.as(true),
              Effect.catchTag("TaskNotFound", () => Effect.succeed(false)),
              Effect.tapError(() => Effect.sync(() => admitted.delete(id)))
            )
            if (!adopted) return void admitted.delete(id)
            yield* Effect.orDie(self.Run({ id }, { discard: true }))
          }),
        Run: ({ payload: { id } }) =>
          Effect.suspend(() => {
            // Closing: the next owner adopts it. Served already (submitted here, then adopted): nothing to do.
            if (host.closing()) return Effect.never
            if (serving.has(id)) return Effect.void
            serving.add(id)
            admitted.add(id)
            return serve(id)
          }),
        // Adopted first, to run its finalizers here: not while another live runner still runs it.
        Interrupt: ({ payload: { id } }) =>
          local.get(id).pipe(
            Effect.flatMap((info) => host.live.awaitLetGo(info)),
            Effect.andThen(local.adopt(id)),
            Effect.andThen(local.interrupt(id))
          ),
        Await: ({ payload: { id } }) => local.awaitInfo(id)
      })
    }),
    { concurrency: "unbounded", maxIdleTime: "1 minute" }
  )

/** How often a runner looks for held shards not open yet, whose unfinished tasks it then adopts (besides when asked). */
export const adoptionInterval: Duration.Input = "250 millis"

/** The span of the adoption's read of the unfinished records: a trace shows how long acquired shards waited for it. */
export const adoptionReadSpan = "chainjobs/cluster/adoption.unfinished"

/** How long one `Adopt` may take before its shard is left closed for the next look. */
const adoptTimeout = Duration.seconds(10)

/** The least time between two looks of the adoption, however often it is asked to look. */
const minimumGap = Duration.millis(20)

/**
 * The runner's adoption loop: a shard held here and not open (acquired at
 * start, from a runner that died or handed it over, or held again after its
 * tasks were handed over) has every unfinished task record placed on it
 * adopted (`Adopt`: resumed from its checkpoint or failed as `lost`, as its
 * kind says), then opens (`OpenShards`). A record another live runner still
 * runs is adopted only once that runner lets it go (`LiveRunners`). Each shard
 * opens as soon as its own records are adopted, whatever other shards still
 * wait for; a shard whose adoption is under way is not read again meanwhile.
 * A failed read or adoption leaves the shard closed, tried again at a look at
 * least `interval` later. It looks every `interval`, and at once when a
 * submission waits for a shard or a shard closes (at most every
 * `minimumGap`). Which shards are held is sampled meanwhile
 * (`OpenShards.follow`): a shard released and held again while its adoption
 * reads and adopts is adopted again, not opened. The shard locks keep this to
 * one runner: the previous owner stopped its tasks before releasing the shard,
 * or is dead, or still runs them and is waited for.
 */
export const adoption = (host: Pick<Host, "openShards" | "live">, shards: number, interval: Duration.Input = adoptionInterval) =>
  Effect.gen(function*() {
    const sharding = yield* Sharding.Sharding
    const store = yield* TaskStore.TaskStore
    const clientFor = yield* TaskEntity.client
    const { live, openShards } = host
    const all = Array.from({ length: shards }, (_, i) => ShardId.make(shardGroup, i + 1))
    yield* OpenShards.follow(openShards, all)
    /** Shards whose records are being adopted now, by shard. */
    const adopting = yield* FiberMap.make<string>()
    /** Shards whose last adoption failed, and when they may be tried again: a failing one is not read back to back. */
    const retryAt = new Map<string, number>()
    /** Adopts the records of one closed shard, then opens it if none failed and no close came since `epoch`. */
    const adoptShard = (shard: ShardId.ShardId, epoch: number, records: ReadonlyArray<TaskInfo.TaskInfo>) =>
      Effect.forEach(records, (info) =>
        live.awaitLetGo(info).pipe(
          Effect.andThen(clientFor(placement(info)).Adopt({ id: info.id }).pipe(Effect.timeout(adoptTimeout))),
          Effect.tapCause((cause) => Effect.logWarning(`Could not adopt task ${info.id} of shard ${shard}`, cause)),
          Effect.exit
        ), { concurrency: 16 }).pipe(
        Effect.flatMap((exits) =>
          Effect.gen(function*() {
            if (exits.every(Exit.isSuccess)) {
              const opened = openShards.open(shard, epoch)
              return yield* Effect.logDebug(`Adopted ${records.length} tasks of shard ${shard}; ${opened ? "opened" : "left closed (closed or released meanwhile)"}`)
            }
            retryAt.set(shard.toString(), (yield* Clock.currentTimeMillis) + Duration.toMillis(Duration.fromInputUnsafe(interval)))
          })
        )
      )
    const look = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const closed = all.filter((shard) => {
        const key = shard.toString()
        return sharding.hasShardId(shard) && !openShards.isOpen(shard) && !FiberMap.hasUnsafe(adopting, key) &&
          (retryAt.get(key) ?? 0) <= now
      })
      if (closed.length === 0) return
      // Read after the epochs: a close while the records are read and adopted keeps its shard closed.
      const epochs = new Map(closed.map((shard) => [shard.toString(), openShards.epoch(shard)]))
      const unfinished = yield* Effect.withSpan(store.unfinished, adoptionReadSpan)
      const byShard = new Map<string, Array<TaskInfo.TaskInfo>>(closed.map((shard) => [shard.toString(), []]))
      for (const info of unfinished) byShard.get(shardOf(sharding, placement(info)).toString())?.push(info)
      for (const shard of closed) {
        const key = shard.toString()
        const records = byShard.get(key)!
        retryAt.delete(key)
        // nothing to adopt: opens now, no fiber
        if (records.length === 0) openShards.open(shard, epochs.get(key)!)
        else yield* FiberMap.run(adopting, key, adoptShard(shard, epochs.get(key)!, records))
      }
    })
    yield* look.pipe(
      Effect.catchCause((cause) => Effect.logWarning("Could not adopt the tasks of acquired shards", cause)),
      // at least `minimumGap` between looks: many waiting submissions wake it often
      Effect.andThen(Effect.sleep(minimumGap)),
      Effect.andThen(openShards.woken(interval)),
      Effect.forever,
      Effect.forkScoped
    )
  })
