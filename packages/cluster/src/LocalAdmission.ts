/**
 * Submissions admitted by the runner holding their shard, straight into its
 * own supervisor: no `Submit` and `Run` messages through the task entity, no
 * envelope, no serialization — the routing cost a task pays only when it must
 * travel to another runner.
 *
 * What keeps it safe is a guard per shard: an entity of its own type
 * (`ShardGuard`) that this runner starts on every shard it holds (`Hold`, a
 * volatile message to itself that never ends). Only while its shard's guard
 * is open here is a submission placed on that shard admitted directly, and
 * the guard knows every task so admitted. The cluster ends a shard's entities
 * before it releases the shard's lock (rebalancing, lost locks, shutdown), the
 * guard among them: it closes at once (submissions go through the entity from
 * then on), waits for the direct submissions still being recorded, and hands
 * every task it knows over (stopped at its checkpoint, left pending), exactly
 * as the task entity hands over the tasks it admitted. The runner acquiring
 * the shard adopts them from their records (`TaskEntity.adoption`), so a task
 * still runs on one runner at a time. A shard whose guard is not open here
 * (not held, just acquired, being released), or that is not open to
 * submissions yet (`OpenShards`: its unfinished tasks not adopted), takes the
 * entity path, whose `Submit` waits for the shard to open.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Exit, Latch, Layer, Option, Schedule } from "effect"
import { ClusterSchema, Entity, EntityId, Sharding, type ShardId } from "effect/cluster"
import { Rpc } from "effect/rpc"
import { type TaskHandle, TaskInfo, Tasks } from "@chainjobs/tasks"
import type { OpenShards } from "./OpenShards.ts"
import * as TaskEntity from "./TaskEntity.ts"

/**
 * Opens the guard of the shard its entity is on, and keeps it open until the
 * cluster ends that entity (the shard moves, or the runner stops); then hands
 * the shard's directly admitted tasks over. Never answers.
 */
export const Hold = Rpc.make("Hold").annotate(ClusterSchema.InterruptOnTermination, true)

/** The guard entity type: one entity per shard, on the runner holding it. */
export const ShardGuard = Entity.make("chainjobs/ShardGuard", [Hold])

/** How often a runner looks for shards it holds without a guard open, and starts one on each. */
export const guardInterval = "250 millis"

/** How often the guards forget the directly admitted tasks the supervisor no longer holds (finished, let go of). */
export const pruneInterval = "1 second"

/** One shard's guard while open: the direct submissions being recorded under it, and the tasks they admitted. */
class Guard {
  /** The shard it guards. */
  readonly shard: ShardId.ShardId
  constructor(shard: ShardId.ShardId) {
    this.shard = shard
  }
  /** Set once the shard is going: nothing more is admitted under this guard. */
  closed = false
  /** Direct submissions under way (admitted, their supervisor's submission not returned yet). */
  recording = 0
  /** Open while no direct submission is being recorded. */
  readonly idle = Latch.makeUnsafe(true)
  /**
   * Ids of the tasks admitted under this guard whose submission has returned: the unfinished ones, and those that
   * ended since the last prune. Each is added as its submission returns, so every id here is one the supervisor
   * held (or holds) by then: a look at it (`Tasks.peek`) tells whether it still does. An array, added to per
   * submission and rebuilt per prune: no hashing of ids per task.
   */
  tasks: Array<string> = []
}

/** A runner's direct admission: its guards, and the submissions made under them. */
export interface LocalAdmission {
  /**
   * Admits a submission directly if this runner's guard of `entityId`'s shard is open: `submit` (the local
   * supervisor's submission of task `id`) runs, and its handle comes back in `Some`. `None` when the guard is not
   * open here, and nothing ran: the caller routes the submission through the entity.
   */
  submit<E>(
    entityId: string,
    id: string,
    submit: Effect.Effect<TaskHandle.TaskHandle<any, any>, E>
  ): Effect.Effect<Option.Option<TaskHandle.TaskHandle<any, any>>, E>
  /**
   * Whether a submission of shard `shard` made now would be admitted directly: held here, its guard open, and open to
   * submissions (its unfinished tasks adopted). What `submit` checks first, and where `LocalPlacement` places tasks.
   */
  admits(shard: ShardId.ShardId): boolean
  /** How many shards' guards are open here: the shards whose submissions this runner admits directly. */
  readonly guarded: Effect.Effect<number>
  /**
   * How many directly admitted tasks the guards know: those whose submission is under way, the unfinished ones, and
   * those that ended since the last prune (a task submitted again by its own id and joined counts again until then).
   */
  readonly known: Effect.Effect<number>
  /** Closes every guard and hands over every directly admitted task: what a stopping runner does first. */
  readonly close: Effect.Effect<void>
}

/** Admits nothing directly: every submission goes through the task entity. */
export const none: LocalAdmission = {
  submit: () => Effect.succeed(Option.none()),
  admits: () => false,
  guarded: Effect.succeed(0),
  known: Effect.succeed(0),
  close: Effect.void
}

/** The guard entity's handlers on a runner: `Hold` keeps its shard's guard open (`hold`) until the entity ends. */
const guardLayer = (hold: (shard: ShardId.ShardId) => Effect.Effect<void>) =>
  ShardGuard.toLayer(
    Effect.map(Entity.CurrentAddress, (address) => ShardGuard.of({ Hold: () => hold(address.shardId) })),
    { concurrency: "unbounded" }
  )

/**
 * A runner's direct admission over its own supervisor (`local`, the supervisor
 * `Tasks.make` built: its memory tells which tasks it still holds,
 * `Tasks.peek`; anything else is a defect): every `pruneInterval` forgets the
 * tasks it no longer holds, and every `guardInterval` starts a guard on each
 * shard held without one open, until the scope closes. A submission is admitted directly only while its shard is
 * open too (`openShards`, the task entity's). `shards` is the number of shards
 * per group. Registers the guard entity.
 */
export const make = Effect.fnUntraced(function*(local: Tasks.Tasks["Service"], shards: number, openShards: OpenShards) {
  // a wrapper's memory would look empty, and an unfinished task forgotten is not handed over when its shard moves
  if (Tasks.peeker(local) === undefined) {
    return yield* Effect.die(new Error("LocalAdmission.make: `local` is not a supervisor Tasks.make built"))
  }
  const sharding = yield* Sharding.Sharding
  const clientFor = yield* ShardGuard.client
  // The guard entity's shard group does not depend on its id. A task's shard is the task entity's
  // (`TaskEntity.shardOf`): a guard stands for it only if both are the same shard, group and number.
  const group = ShardGuard.getShardGroup(EntityId.make(""))
  /** Open guards by shard (`group:id`). */
  const guards = new Map<string, Guard>()
  /**
   * Guards whose shard is going (closed) and whose tasks are not handed over yet: their tasks are still known
   * (`known`) and pruned until then.
   */
  const closing = new Set<Guard>()
  /** Every guard whose ids are kept: the open ones, and the closing ones not handed over yet. */
  const keeping = (): Array<Guard> => [...guards.values(), ...closing]
  let closed = false

  // One guard entity id on each shard: the first `g/<n>` hashed there.
  const guardIds = new Map<number, { readonly shard: ShardId.ShardId; readonly entityId: string }>()
  for (let n = 0; guardIds.size < shards; n++) {
    const entityId = `g/${n}`
    const shard = sharding.getShardId(EntityId.make(entityId), group)
    if (!guardIds.has(shard.id)) guardIds.set(shard.id, { shard, entityId })
  }

  /** Whether the supervisor still holds task `id` unfinished (from its memory: `Tasks.peek`). */
  const held = (id: string) => {
    const info = Tasks.peek(local, id)
    return info !== undefined && !TaskInfo.isTerminal(info.status)
  }

  /**
   * The ids of `ids` still held unfinished, each once: a submission of a held task's own id that joins it (its key
   * busy with that very task) adds the id again, so a task re-submitted while it lives is known more than once
   * until the next prune, never longer.
   */
  const kept = (ids: ReadonlyArray<string>) => {
    const seen = new Set<string>()
    return ids.filter((id) => !seen.has(id) && seen.add(id) !== undefined && held(id))
  }

  /**
   * Forgets the directly admitted tasks the supervisor no longer holds: finished, or let go of (`Tasks.peek` says so
   * from its memory; no record, once its submission returned, means it is not held here). Every `pruneInterval`,
   * not per change: no follower of the supervisor's changes, a look at each task known here a second instead (what
   * a guard hands over is bounded by the tasks admitted in that time besides the unfinished ones). A submission
   * under way is not among them yet (its id is added as it returns; a release waits for it). A guard's release hands
   * over what it still knows, finished ones included: a task not held here is not handed over (`Tasks.handOff`
   * does nothing).
   */
  const prune = Effect.sync(() => {
    for (const guard of keeping()) guard.tasks = kept(guard.tasks)
  })
  yield* Effect.forkScoped(Effect.repeat(prune, Schedule.spaced(pruneInterval)))

  /**
   * The shard of each bucket entity (`b/<n>`, where unkeyed tasks go) a submission was placed on, and its key in
   * `guards`: found once per bucket (256 at most), not hashed and made again per submission. A keyed task's entity is
   * looked up each time (its keys are not bounded).
   */
  const bucketShards = new Map<string, { readonly shard: ShardId.ShardId; readonly key: string }>()
  const shardOfEntity = (entityId: string) => {
    const known = bucketShards.get(entityId)
    if (known !== undefined) return known
    const shard = TaskEntity.shardOf(sharding, entityId)
    const found = { shard, key: shard.toString() }
    if (TaskEntity.isBucketEntity(entityId)) bucketShards.set(entityId, found)
    return found
  }

  /** Closes a guard: no more direct submissions under it; once those under way are recorded, hands its tasks over. */
  const release = (shard: ShardId.ShardId, guard: Guard) =>
    Effect.suspend(() => {
      guard.closed = true
      closing.add(guard)
      if (guards.get(shard.toString()) === guard) guards.delete(shard.toString())
      return Effect.andThen(
        guard.idle.await,
        Effect.suspend(() => {
          // every submission under it has returned, its id added: all it admitted
          const ids = Array.from(new Set(guard.tasks))
          guard.tasks = []
          closing.delete(guard)
          // the shard closes too: held again, its records are adopted again
          return TaskEntity.handOver({ local, openShards }, shard, ids)
        })
      )
    })

  /** A guard's life on shard `shard`: open until interrupted (its entity ends), then released. One per shard. */
  const hold = (shard: ShardId.ShardId): Effect.Effect<void> =>
    // The guard is known and its release in place in one uninterruptible step: an entity ended in between would
    // leave a guard open that nothing releases.
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend(() => {
        // a second `Hold` (sent again before the first opened), or the runner stopping: the guard is not this one's
        if (closed || guards.has(shard.toString())) return Effect.void
        const guard = new Guard(shard)
        guards.set(shard.toString(), guard)
        return Effect.ensuring(restore(Effect.never), release(shard, guard))
      })
    )

  yield* Layer.build(guardLayer(hold))
  yield* Effect.suspend(() =>
    Effect.forEach(guardIds.values(), ({ entityId, shard }) =>
      closed || guards.has(shard.toString()) || !sharding.hasShardId(shard)
        ? Effect.void
        : clientFor(entityId).Hold(undefined, { discard: true }).pipe(
          // a shard that moved meanwhile takes the message elsewhere: never wait long for it, the next look sends again
          Effect.timeoutOption(guardInterval),
          Effect.ignore
        ), { concurrency: 16, discard: true })
  ).pipe(
    Effect.catchCause((cause) => Effect.logWarning("Could not start the guards of held shards", cause)),
    Effect.repeat(Schedule.spaced(guardInterval)),
    Effect.forkScoped
  )

  /** The guard a submission of `shard` (whose key in `guards` is `key`) is admitted under now, if it is admitted directly. */
  const admitting = (shard: ShardId.ShardId, key = shard.toString()): Guard | undefined => {
    const guard = guards.get(key)
    // Between the cluster letting the shard go and ending its guard, the guard is still open: not held is enough.
    // Held and guarded but not open (its unfinished tasks not adopted yet): the entity's `Submit` waits for it.
    return guard === undefined || guard.closed || !sharding.hasShardId(shard) || !openShards.isOpen(shard) ? undefined : guard
  }

  const admission: LocalAdmission = {
    submit: (entityId, id, submit) =>
      Effect.suspend(() => {
        const { key, shard } = shardOfEntity(entityId)
        const guard = admitting(shard, key)
        if (guard === undefined) return Effect.succeed(Option.none())
        // Counted before it is recorded: a release waits for it, then hands over what it admitted.
        if (guard.recording++ === 0) guard.idle.closeUnsafe()
        // one step at its end, whatever it is (a submission's fewest steps: this is every direct admission's path)
        const ended = (exit: Exit.Exit<TaskHandle.TaskHandle<any, any>, unknown>) =>
          Effect.sync(() => {
            // Known from now on, before the count falls (a release reads the ids once none is under way): admitted
            // here, unless refused (or joined another task, kept where that one was admitted). A defect or an
            // interruption may still have left the task held: known too (a prune forgets it if not).
            if (Exit.isSuccess(exit) ? exit.value.id === id : !Cause.hasFails(exit.cause)) guard.tasks.push(id)
            if (--guard.recording === 0) guard.idle.openUnsafe()
          })
        return Effect.map(Effect.onExit(submit, ended), Option.some)
        // From the count to its end, not interruptible: a submitter interrupted meanwhile must neither leave the count
        // up (the guard's release would wait for it forever) nor an admitted task unknown to its guard.
      }).pipe(Effect.uninterruptible),
    admits: (shard) => admitting(shard) !== undefined,
    guarded: Effect.sync(() => guards.size),
    // the ids kept, and the submissions under way (each known from its admission, as its release waits for it)
    known: Effect.sync(() => keeping().reduce((known, guard) => known + guard.tasks.length + guard.recording, 0)),
    close: Effect.suspend(() => {
      closed = true
      return Effect.forEach(Array.from(guards.values()), (guard) => release(guard.shard, guard), {
        concurrency: "unbounded",
        discard: true
      })
    })
  }
  return admission
})
