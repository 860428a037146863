/** Task kinds and layers shared by the supervisor tests. */
import { Context, Deferred, Effect, Fiber, Layer, Ref, Schema, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as Task from "../src/Task.ts"
import { TaskContext } from "../src/TaskContext.ts"
import * as TaskStore from "../src/TaskStore.ts"
import * as Tasks from "../src/Tasks.ts"
import * as TasksConfig from "../src/TasksConfig.ts"

/** The typed error of the test kinds. */
export class Boom extends Schema.TaggedError<Boom>()("Boom", { message: Schema.String }) {}

/** Adds two numbers. */
export const Add = Task.define("add", {
  payload: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Number
})
/** The handler of `Add`. */
export const AddLive = Task.implement(Add, ({ a, b }) => Effect.succeed(a + b))

/** Fails with `Boom`. */
export const Fail = Task.define("fail", {
  payload: Schema.Struct({ message: Schema.String }),
  success: Schema.Void,
  error: Boom
})
/** The handler of `Fail`. */
export const FailLive = Task.implement(Fail, ({ message }) => Effect.fail(new Boom({ message })))

/** Sleeps, reporting progress every second; notes when its finalizer runs. */
export const Sleep = Task.define("sleep", {
  payload: Schema.Struct({ seconds: Schema.Int, tag: Schema.optionalKey(Schema.String) }),
  success: Schema.Int
})

/** The handler of `Sleep`, logging `start:<tag>` and `finalized:<tag>` into the given ref. */
export const sleepLive = (log: Ref.Ref<ReadonlyArray<string>>) =>
  Task.implement(Sleep, ({ seconds, tag }) =>
    Effect.gen(function*() {
      const context = yield* TaskContext
      const name = tag ?? context.taskId
      yield* Ref.update(log, (l) => [...l, `start:${name}`])
      yield* Effect.addFinalizer(() => Ref.update(log, (l) => [...l, `finalized:${name}`]))
      for (let i = 1; i <= seconds; i++) {
        yield* Effect.sleep("1 second")
        yield* context.progress((i / seconds) * 100, `slept ${i}s`)
      }
      return seconds
    }).pipe(Effect.scoped))

/** A kind whose tasks wait until the test opens their gate. */
export const Gate = Task.define("gate", {
  payload: Schema.Struct({ id: Schema.String }),
  success: Schema.String
})

/** Named gates a test opens: `gateOf(name)` is the same `Deferred` every time it is asked for. */
export const makeGates = () => {
  const gates = new Map<string, Deferred.Deferred<void>>()
  return (name: string) => {
    let gate = gates.get(name)
    if (gate === undefined) {
      gate = Deferred.makeUnsafe<void>()
      gates.set(name, gate)
    }
    return gate
  }
}

/** The handler of `Gate`: completes when `open(id)` is called. */
export const gateLive = Effect.gen(function*() {
  const gateOf = makeGates()
  return {
    layer: Task.implement(Gate, ({ id }) => Effect.as(Deferred.await(gateOf(id)), id)),
    open: (id: string) => Deferred.succeed(gateOf(id), undefined)
  }
})

/** Settings for tests: no grace period, so closing the test's scope never waits on the TestClock. */
export const testConfig: Partial<TasksConfig.TasksConfig["Service"]> = { shutdownGracePeriod: 0 }

/** A supervisor on a memory store with the given kinds registered. */
export const supervisor = <E, R>(
  implementations: Layer.Layer<never, E, R>,
  options: Partial<TasksConfig.TasksConfig["Service"]> = {}
) =>
  implementations.pipe(
    Layer.provideMerge(Tasks.layer({ ...testConfig, ...options })),
    Layer.provideMerge(TaskStore.layerMemory)
  )

/**
 * Starts a supervisor with `implementations` on an existing `store`, in a scope of
 * its own, so that a test can shut it down (close the scope) and start another on
 * the same store.
 */
export const startOn = <E, R>(
  store: TaskStore.TaskStore["Service"],
  implementations: Layer.Layer<never, E, R>,
  options: Partial<TasksConfig.TasksConfig["Service"]> = {}
) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      implementations.pipe(
        Layer.provideMerge(Tasks.layer(options)),
        Layer.provide(Layer.succeed(TaskStore.TaskStore, store))
      ),
      scope
    )
    return { tasks: Context.get(context, Tasks.Tasks), scope }
  })

/** Lets forked fibers run until they block. */
export const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

/** Moves the test clock one second at a time, so that every timer due on the way fires in order. */
export const advance = (seconds: number) =>
  Effect.gen(function*() {
    for (let i = 0; i < seconds; i++) {
      yield* TestClock.adjust("1 second")
      yield* settle
    }
  })

/**
 * `fiber`'s outcome, the test clock moved a second at a time (at most `seconds`) while it waits: a fiber still
 * waiting then dies naming `what` at once — a wait a bug never ends fails its test then, not at the test's time bound.
 */
export const joinWithin = <A, E>(fiber: Fiber.Fiber<A, E>, seconds: number, what: string) =>
  Effect.gen(function*() {
    yield* settle
    for (let i = 0; i < seconds && fiber.pollUnsafe() === undefined; i++) {
      yield* TestClock.adjust("1 second")
      yield* settle
    }
    if (fiber.pollUnsafe() === undefined) return yield* Effect.die(new Error(`${what}: still waiting after ${seconds} s`))
    return yield* Fiber.join(fiber)
  })
