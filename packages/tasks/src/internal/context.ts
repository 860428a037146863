/**
 * The `TaskContext` of one running task: a small object whose methods change
 * the task's record through its `Entry`, publish the change and write it to
 * the store (progress may be coalesced by the store; a checkpoint is durable).
 */
import { Effect, Option } from "effect"
import type * as TaskContext from "../TaskContext.ts"
import type { TaskStore } from "../TaskStore.ts"
import type { Entry } from "./entry.ts"
import type { Publisher } from "./publisher.ts"

/** What every task context of one supervisor shares. */
export interface Shared {
  readonly store: TaskStore["Service"]
  readonly now: () => number
  readonly publisher: Publisher
}

/** The context a handler of `entry` runs with. */
export class LiveTaskContext implements TaskContext.Untyped {
  readonly entry: Entry
  readonly shared: Shared
  constructor(entry: Entry, shared: Shared) {
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
