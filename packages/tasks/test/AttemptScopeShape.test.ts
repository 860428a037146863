/**
 * `AttemptScope` (internal/attemptScope.ts) re-makes effect's own scope object (`Scope.makeUnsafe`'s) as a class, so
 * that a one-attempt task holds one field for it: effect's scope functions read its fields, not its class. These tests
 * compare the two, so that an effect update that changes the object (a field added or renamed, a type id changed, the
 * state machine changed) fails here loudly instead of breaking every one-attempt task silently.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import { AttemptScope } from "../src/internal/attemptScope.ts"

/** Every key of `value` and of its prototypes below `Object.prototype`, but a class's `constructor`. */
const keysOf = (value: object): ReadonlyArray<PropertyKey> => {
  const keys = new Set<PropertyKey>()
  for (let level: object | null = value; level !== null && level !== Object.prototype; level = Object.getPrototypeOf(level)) {
    for (const key of Reflect.ownKeys(level)) if (key !== "constructor") keys.add(key)
  }
  return [...keys].sort((a, b) => String(a).localeCompare(String(b)))
}

/** A scope's state without its finalizers' functions: its tag, how many finalizers it has, and the exit it closed with. */
const stateOf = (scope: Scope.Scope) => {
  const state = scope.state
  return state._tag === "Open"
    ? { _tag: state._tag, finalizers: state.finalizer !== undefined ? 1 : state.finalizers?.size ?? 0 }
    : state._tag === "Closed"
    ? { _tag: state._tag, exit: state.exit }
    : { _tag: state._tag }
}

/**
 * The operations effect calls on a scope, applied to `scope` in turn: finalizers added (with and without the exit), a
 * child forked and closed (it leaves the parent), the scope closed (its finalizers run last added first), then a
 * finalizer added and a child forked on the closed scope. What each step saw and left.
 */
const exercise = (scope: Scope.Closeable) =>
  Effect.gen(function*() {
    const trace: Array<unknown> = []
    const note = (line: unknown) => Effect.sync(() => void trace.push(line))
    yield* Scope.addFinalizer(scope, note("first"))
    yield* Scope.addFinalizerExit(scope, (exit) => note(`second ${exit._tag}`))
    trace.push(stateOf(scope))
    const child = yield* Scope.fork(scope)
    trace.push({ childParentIsScope: child.parent === scope, childStrategy: child.strategy }, stateOf(scope))
    yield* Scope.addFinalizer(child, note("child's"))
    yield* Scope.close(child, Exit.void)
    trace.push(stateOf(child), stateOf(scope))
    yield* Scope.provide(Effect.addFinalizer(() => note("provided")), scope)
    yield* Scope.close(scope, Exit.succeed(1))
    trace.push(stateOf(scope))
    yield* Scope.close(scope, Exit.succeed(2))
    yield* Scope.addFinalizer(scope, note("after close"))
    const late = Scope.forkUnsafe(scope)
    trace.push(stateOf(late), stateOf(scope))
    return trace
  })

describe("AttemptScope, against effect's own scope", () => {
  it("has the keys of Scope.makeUnsafe()'s object, with the same values (type ids, strategy, parent, empty state)", () => {
    const reference = Scope.makeUnsafe()
    const attempt = new AttemptScope()
    assert.deepStrictEqual(keysOf(attempt), keysOf(reference))
    for (const key of keysOf(reference)) {
      assert.deepStrictEqual(
        (attempt as unknown as Record<PropertyKey, unknown>)[key],
        (reference as unknown as Record<PropertyKey, unknown>)[key],
        `the value of ${String(key)}`
      )
    }
    // only its state is its own: the rest is on the prototype, shared by every task
    assert.deepStrictEqual(Reflect.ownKeys(attempt), ["state"])
  })

  it.effect("goes through effect's scope operations as Scope.makeUnsafe()'s object does", () =>
    Effect.gen(function*() {
      const reference = yield* exercise(Scope.makeUnsafe())
      const attempt = yield* exercise(new AttemptScope())
      assert.deepStrictEqual(attempt, reference)
      // and the reference did what these operations are for
      assert.deepStrictEqual(reference.filter((line) => typeof line === "string"), [
        "child's",
        "provided",
        "second Success",
        "first",
        "after close"
      ])
    }))
})
