/**
 * The scope of a task's one attempt (kinds without retries): what the
 * handler's `Scope` is, closed by the runner when the attempt ends. It is
 * `Scope.Closeable` as effect's scope functions read and change one (its
 * `state`), with the strategy (sequential), the parent (none) and the type
 * ids on the prototype: an idle task holds one field for it. `Scope.makeUnsafe`
 * makes an object literal whose computed type-id keys leave its last field
 * outside the object: 96 heap bytes a task, against 8 here as a base of the
 * task's context (see `LiveTaskContext`).
 */
import type { Scope } from "effect"

/** A scope that has never had a finalizer. */
const empty: Scope.State.Empty = { _tag: "Empty" }

/** A sequential, parentless `Scope.Closeable` whose only own field is its state. */
export class AttemptScope implements Scope.Closeable {
  declare readonly "~effect/Scope": "~effect/Scope"
  declare readonly "~effect/Scope/Closeable": "~effect/Scope/Closeable"
  declare readonly strategy: "sequential"
  declare readonly parent: undefined
  state: Scope.State.Open | Scope.State.Closed | Scope.State.Empty = empty
}

Object.defineProperties(AttemptScope.prototype, {
  "~effect/Scope": { value: "~effect/Scope" },
  "~effect/Scope/Closeable": { value: "~effect/Scope/Closeable" },
  strategy: { value: "sequential" },
  parent: { value: undefined }
})
