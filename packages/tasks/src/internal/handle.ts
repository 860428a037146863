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
import type { FinalRecord } from "./entry.ts"

/** The supervisor operations a handle is made of. */
export interface HandleOperations {
  readonly get: (id: string) => Effect.Effect<TaskInfo, TaskNotFound | TaskStoreError>
  /** `final`: where a handle made at the task's submission finds its committed final record. */
  readonly awaitExit: (
    id: string,
    kind: Any | undefined,
    final?: FinalRecord
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
  /** For a handle made at the task's submission: where its committed final record appears. */
  readonly final: FinalRecord | undefined
  constructor(id: string, kind: string, known: Any | undefined, operations: HandleOperations, final?: FinalRecord) {
    this.id = id
    this.kind = kind
    this.known = known
    this.operations = operations
    this.final = final
  }
  get info() {
    return this.operations.get(this.id)
  }
  get status() {
    return Effect.map(this.operations.get(this.id), (info) => info.status)
  }
  get await() {
    return this.operations.awaitExit(this.id, this.known, this.final) as Effect.Effect<Exit.Exit<any, any>, any>
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
