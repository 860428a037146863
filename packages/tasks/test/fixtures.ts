/** Task kinds and layers shared by the supervisor tests. */
import { Effect, Layer, Schema } from "effect"
import * as Task from "../src/Task.ts"
import { TaskContext } from "../src/TaskContext.ts"
import * as TaskStore from "../src/TaskStore.ts"
import * as TaskSupervisor from "../src/TaskSupervisor.ts"

/** The typed error of the test kinds. */
export class Boom extends Schema.TaggedError<Boom>()("Boom", { message: Schema.String }) {}

/** Adds two numbers. */
export const Add = Task.define("add", {
  payload: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Number
})
export const AddLive = Task.implement(Add, ({ a, b }) => Effect.succeed(a + b))

/** Fails with `Boom` when asked to. */
export const Fail = Task.define("fail", {
  payload: Schema.Struct({ message: Schema.String }),
  success: Schema.Void,
  error: Boom
})
export const FailLive = Task.implement(Fail, ({ message }) => Effect.fail(new Boom({ message })))

/** A supervisor on a memory store with the given kinds registered. */
export const supervisor = <E, R>(
  implementations: Layer.Layer<never, E, R>,
  options: Partial<TaskSupervisor.TaskSupervisorConfig> = {}
) =>
  implementations.pipe(
    Layer.provideMerge(TaskSupervisor.layer(options)),
    Layer.provideMerge(TaskStore.layerMemory)
  )

export { TaskContext }
