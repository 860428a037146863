/**
 * The `TaskContext` of one running task: a small object whose methods change
 * the task's record through its `Entry`, publish the change and write it to
 * the store (progress may be coalesced by the store; a checkpoint is durable);
 * and the same context typed by the task's kind, as its handler gets it.
 */
import { Effect, Exit, Option, type Scope } from "effect"
import type * as TaskContext from "../TaskContext.ts"
import type { TaskStore } from "../TaskStore.ts"
import { AttemptScope } from "./attemptScope.ts"
import type { KindCodec } from "./codec.ts"
import type { Entry } from "./entry.ts"
import type { Publisher } from "./publisher.ts"

/** What every task context of one supervisor shares. */
export interface Shared {
  readonly store: TaskStore["Service"]
  readonly now: () => number
  readonly publisher: Publisher
}

/**
 * The context a handler of `entry` runs with; for a kind without retries it is also the scope of the task's one
 * attempt (the handler's `Scope`), one object for both: the two live and end together.
 */
export class LiveTaskContext extends AttemptScope implements TaskContext.Untyped {
  readonly entry: Entry
  readonly shared: Shared
  /**
   * The one attempt of a kind without retries, from its start until its fiber takes it: the runner leaves it here
   * so that every such fiber runs one shared Effect (see `attempt.ts`).
   */
  pendingAttempt: Effect.Effect<unknown, unknown, Scope.Scope> | undefined = undefined
  constructor(entry: Entry, shared: Shared) {
    super()
    this.entry = entry
    this.shared = shared
  }
  get taskId() {
    return this.entry.id
  }
  get attempt() {
    return this.entry.info.attempt
  }
  progress(percent: number, message?: string, detail?: unknown): Effect.Effect<void> {
    return Effect.suspend(() => {
      const info = this.entry.markProgress(percent, message, detail, this.shared.now())
      this.shared.publisher.publish(this.entry, "Progressed")
      return Effect.ignore(this.shared.store.updateProgress(info))
    })
  }
  get heartbeat(): Effect.Effect<void> {
    return Effect.sync(() => this.entry.markAlive(this.shared.now()))
  }
  checkpoint(state: unknown): Effect.Effect<void> {
    return Effect.suspend(() => Effect.orDie(this.shared.store.update(this.entry.markCheckpoint(state, this.shared.now()))))
  }
  get lastCheckpoint(): Effect.Effect<Option.Option<unknown>> {
    return Effect.sync(() => Option.fromNullishOr(this.entry.info.checkpoint))
  }
}

/** A task's context typed by its kind: checkpoints and details go through the kind's Schemas, the rest through `untyped`. */
export class KindTaskContext implements TaskContext.Typed<unknown, unknown> {
  readonly untyped: TaskContext.Untyped
  readonly codec: KindCodec
  constructor(untyped: TaskContext.Untyped, codec: KindCodec) {
    this.untyped = untyped
    this.codec = codec
  }
  get taskId() {
    return this.untyped.taskId
  }
  get attempt() {
    return this.untyped.attempt
  }
  progress(percent: number, message?: string, detail?: unknown): Effect.Effect<void> {
    if (detail === undefined) return this.untyped.progress(percent, message)
    return Effect.suspend(() =>
      Effect.flatMap(Effect.orDie(this.codec.encodeDetail(detail)), (encoded) => this.untyped.progress(percent, message, encoded))
    )
  }
  get heartbeat(): Effect.Effect<void> {
    return this.untyped.heartbeat
  }
  checkpoint(state: unknown): Effect.Effect<void> {
    return Effect.suspend(() =>
      Effect.flatMap(Effect.orDie(this.codec.encodeCheckpoint(state)), (encoded) => this.untyped.checkpoint(encoded))
    )
  }
  get lastCheckpoint(): Effect.Effect<Option.Option<unknown>> {
    return Effect.map(this.untyped.lastCheckpoint, (stored) =>
      Option.isNone(stored) ? stored : Exit.getSuccess(this.codec.decodeCheckpoint(stored.value)))
  }
}
