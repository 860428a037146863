/**
 * The local `TaskHandle`: an id, a kind and the supervisor operations it is
 * made of; its effects are made when read, so an unused handle costs five
 * fields.
 */
import { Effect, type Exit, type Stream } from "effect"
import type { ResultDecodeError, TaskNotFound, TaskStoreError } from "../TaskError.ts"
import type { TaskHandle } from "../TaskHandle.ts"
import type { TaskInfo } from "../TaskInfo.ts"
import type { Any } from "../TaskKind.ts"

/** The supervisor operations a handle is made of. */
export interface HandleOperations {
  readonly get: (id: string) => Effect.Effect<TaskInfo, TaskNotFound | TaskStoreError>
  /** `origin`: what the supervisor that made the handle gave it (its own record of the task), handed back. */
  readonly awaitExit: (
    id: string,
    kind: Any | undefined,
    origin?: unknown
  ) => Effect.Effect<Exit.Exit<unknown, unknown>, TaskNotFound | TaskStoreError | ResultDecodeError>
  readonly watch: (id: string) => Stream.Stream<TaskInfo, TaskNotFound | TaskStoreError>
  readonly interrupt: (id: string) => Effect.Effect<void, TaskNotFound | TaskStoreError>
}

/** A handle to a task of this process's supervisor. */
export class LiveTaskHandle implements TaskHandle<any, any> {
  readonly id: string
  readonly kind: string
  readonly known: Any | undefined
  readonly operations: HandleOperations
  /** Opaque to the handle: what its supervisor knows of the task from its submission, handed back to `awaitExit`. */
  readonly origin: unknown
  constructor(id: string, kind: string, known: Any | undefined, operations: HandleOperations, origin?: unknown) {
    this.id = id
    this.kind = kind
    this.known = known
    this.operations = operations
    this.origin = origin
  }
  get info() {
    return this.operations.get(this.id)
  }
  get status() {
    return Effect.map(this.operations.get(this.id), (info) => info.status)
  }
  get await() {
    return this.operations.awaitExit(this.id, this.known, this.origin) as Effect.Effect<Exit.Exit<any, any>, any>
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
