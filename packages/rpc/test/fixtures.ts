/** Task kinds and layers shared by the RPC tests, in process and in the server child process. */
import { Deferred, Effect, Layer, Schema } from "effect"
import { type Principal, Task, TaskAccess, TaskContext, TaskStore, Tasks } from "@chainjobs/tasks"
import { Auth } from "@chainjobs/rpc"

/** The typed error of `Fail`. */
export class Boom extends Schema.TaggedError<Boom>()("Boom", { message: Schema.String }) {}

/** Adds two numbers. */
export const Add = Task.define("add", {
  payload: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
  success: Schema.Number
})

/** Fails with `Boom`. */
export const Fail = Task.define("fail", {
  payload: Schema.Struct({ message: Schema.String }),
  success: Schema.Void,
  error: Boom
})

/** Counts `steps` steps of `delayMs` each, reporting progress; its result holds a Date (a string on the wire), to show the kind's Schema decoding on the client. */
export const Steps = Task.define("steps", {
  payload: Schema.Struct({ steps: Schema.Int, delayMs: Schema.Int }),
  success: Schema.Struct({ steps: Schema.Int, at: Schema.DateFromString })
})

/** Holds an exclusive key for `delayMs`; a second submission with the same key joins the first. */
export const Exclusive = Task.define("exclusive", {
  payload: Schema.Struct({ key: Schema.String, delayMs: Schema.Int }),
  success: Schema.Void,
  policy: { key: ({ key }) => key, onConflict: "join" }
})

/** Holds until a `Release` task opens its gate: a task whose end the test decides, not a duration. */
export const Gated = Task.define("gated", {
  payload: Schema.Struct({ gate: Schema.String }),
  success: Schema.Void
})

/** Opens the gate a `Gated` task holds on (before or after that task starts). */
export const Release = Task.define("release", {
  payload: Schema.Struct({ gate: Schema.String }),
  success: Schema.Void
})

/**
 * The handlers. `onFinish` is told how each `steps` and `gated` task ended, from its
 * finalizer, so a test can see that an interrupt ran the finalizer where the
 * task runs.
 */
export const kinds = (onFinish: (id: string, how: "interrupted" | "done") => Effect.Effect<void>) => {
  // The gates of `Gated` tasks, by name: each opened once by a `Release`.
  const gates = new Map<string, Deferred.Deferred<void>>()
  const gate = (name: string) => {
    let opened = gates.get(name)
    if (opened === undefined) gates.set(name, opened = Deferred.makeUnsafe<void>())
    return opened
  }
  return Layer.mergeAll(
    Task.implement(Add, ({ a, b }) => Effect.succeed(a + b)),
    Task.implement(Fail, ({ message }) => Effect.fail(new Boom({ message }))),
    Task.implement(Exclusive, ({ delayMs }) => Effect.sleep(delayMs)),
    Task.implement(Steps, ({ delayMs, steps }) =>
      TaskContext.TaskContext.use((context) =>
        Effect.gen(function*() {
          for (let step = 1; step <= steps; step++) {
            yield* Effect.sleep(delayMs)
            yield* context.progress((100 * step) / steps, `step ${step}`)
          }
          return { steps, at: new Date(0) }
        }).pipe(Effect.onExit((exit) => onFinish(context.taskId, exit._tag === "Failure" ? "interrupted" : "done")))
      )),
    // Reports progress once it holds, so a watcher sees it running, then waits for its gate.
    Task.implement(Gated, ({ gate: name }) =>
      TaskContext.TaskContext.use((context) =>
        Effect.andThen(context.progress(50, "holding"), Deferred.await(gate(name))).pipe(
          Effect.onExit((exit) => onFinish(context.taskId, exit._tag === "Failure" ? "interrupted" : "done"))
        )
      )),
    Task.implement(Release, ({ gate: name }) => Deferred.succeed(gate(name), undefined))
  )
}

/** The tokens of the tests: two principals and an admin. */
export const tokens: Readonly<Record<string, Principal.TokenGrant>> = {
  "alice-token": { principal: "alice" },
  "bob-token": { principal: "bob" },
  "root-token": { principal: "root", admin: true }
}

/** Everything the RPC server needs but the HTTP router: supervisor, kinds, the access rules, authentication. */
export const serverDependencies = <E, R>(
  implementations: Layer.Layer<never, E, R>,
  access: Partial<TaskAccess.TaskAccessConfig> = {}
) =>
  Layer.mergeAll(
    TaskAccess.layer(access).pipe(
      Layer.provideMerge(implementations),
      Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: "10 millis" })),
      Layer.provideMerge(TaskStore.layerMemory)
    ),
    Auth.layerTokens(tokens)
  )

