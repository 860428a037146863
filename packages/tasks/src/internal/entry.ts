/**
 * What the supervisor holds of a task while it lives in this process, and of a
 * registered kind; and the small objects a handler and a caller see of it:
 * the task's `TaskContext` and a local `TaskHandle`, each a few fields whose
 * effects are made when used.
 */
import type { Cause, Context, Deferred, Exit, Fiber, Queue, Stream } from "effect"
import { Effect, Option } from "effect"
import type * as Task from "../TaskKind.ts"
import type { TaskContext } from "../TaskContext.ts"
import type { ResultDecodeError, TaskNotFound, TaskStoreError } from "../TaskError.ts"
import type { TaskHandle } from "../TaskHandle.ts"
import type { TaskInfo } from "../TaskInfo.ts"
import type { TaskStore } from "../TaskStore.ts"
import type * as codec from "./codec.ts"

/** A registered kind: its handler, codec, and the services its task fibers run with. */
export interface Registered {
  readonly kind: Task.Any
  readonly handler: (payload: any) => Effect.Effect<unknown, unknown, any>
  readonly codec: codec.KindCodec
  /** The supervisor's services merged with the handler's: what the task fibers of the kind run with. */
  readonly context: Context.Context<never>
}

/** A task the supervisor holds in memory: from submission until it has finished. */
export interface Entry {
  info: TaskInfo
  readonly registered: Registered
  readonly payload: unknown
  fiber: Fiber.Fiber<void> | undefined
  /** Waiters on the final record, made on first use. */
  done: Deferred.Deferred<TaskInfo> | undefined
  listeners: Set<Queue.Queue<TaskInfo, Cause.Done>> | undefined
  /** Who stopped the task, if anyone did: the first reason wins. */
  stoppedBy: "user" | "heartbeat" | "shutdown" | undefined
  /** The key's slot in the limit maps: keys of different kinds never collide. */
  readonly slot: string | null
  /** True while the task waits out a retry delay: the watchdog leaves it alone then. */
  backingOff: boolean
}

/** The slot of a key in the limit maps: kind and key, so that kinds never share keys. */
export const slotOf = (kind: string, key: string | null): string | null => (key === null ? null : `${kind}\u0000${key}`)

/** The supervisor operations a handle is made of. */
export interface HandleOperations {
  readonly get: (id: string) => Effect.Effect<TaskInfo, TaskNotFound | TaskStoreError>
  readonly awaitExit: (
    id: string,
    kind: Task.Any | undefined
  ) => Effect.Effect<Exit.Exit<unknown, unknown>, TaskNotFound | TaskStoreError | ResultDecodeError>
  readonly watch: (id: string) => Stream.Stream<TaskInfo, TaskNotFound | TaskStoreError>
  readonly interrupt: (id: string) => Effect.Effect<void, TaskNotFound | TaskStoreError>
}

/** A local task handle: its effects are made when read, so an unused handle costs three fields. */
export class LiveTaskHandle implements TaskHandle<any, any> {
  readonly id: string
  readonly kind: string
  readonly known: Task.Any | undefined
  readonly operations: HandleOperations
  constructor(id: string, kind: string, known: Task.Any | undefined, operations: HandleOperations) {
    this.id = id
    this.kind = kind
    this.known = known
    this.operations = operations
  }
  get info() {
    return this.operations.get(this.id)
  }
  get status() {
    return Effect.map(this.operations.get(this.id), (info) => info.status)
  }
  get await() {
    return this.operations.awaitExit(this.id, this.known) as Effect.Effect<Exit.Exit<any, any>, any>
  }
  get join() {
    return Effect.flatMap(this.await, (exit) => exit)
  }
  get events() {
    return this.operations.watch(this.id)
  }
  get interrupt() {
    return this.operations.interrupt(this.id)
  }
}

/** What every task context of one supervisor shares. */
export interface Shared {
  readonly store: TaskStore["Service"]
  readonly now: () => number
  readonly publish: (entry: Entry) => void
}

/** The `TaskContext` of one running task: a small object whose methods act on the supervisor's entry. */
type TaskContextService = TaskContext["Service"]

export class LiveTaskContext implements TaskContextService {
  readonly entry: Entry
  readonly shared: Shared
  constructor(entry: Entry, shared: Shared) {
    this.entry = entry
    this.shared = shared
  }
  get taskId() {
    return this.entry.info.id
  }
  get attempt() {
    return this.entry.info.attempt
  }
  progress(percent: number, message?: string, detail?: unknown): Effect.Effect<void> {
    return Effect.suspend(() => {
      const entry = this.entry
      const p = Math.min(100, Math.max(0, Number.isFinite(percent) ? percent : 0))
      entry.info = {
        ...entry.info,
        progress: p,
        message: message ?? entry.info.message,
        detail: detail === undefined ? entry.info.detail : detail,
        heartbeatAt: this.shared.now()
      }
      this.shared.publish(entry)
      return Effect.ignore(this.shared.store.updateProgress(entry.info))
    })
  }
  get heartbeat(): Effect.Effect<void> {
    return Effect.sync(() => {
      this.entry.info = { ...this.entry.info, heartbeatAt: this.shared.now() }
    })
  }
  checkpoint(state: unknown): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.entry.info = { ...this.entry.info, checkpoint: state ?? null, heartbeatAt: this.shared.now() }
      return Effect.orDie(this.shared.store.update(this.entry.info))
    })
  }
  get lastCheckpoint(): Effect.Effect<Option.Option<unknown>> {
    return Effect.sync(() => Option.fromNullishOr(this.entry.info.checkpoint))
  }
}

