/**
 * Define a task kind, implement it, submit a task, follow its progress and
 * await its typed result — all in one process, on the in-memory store.
 * `NodeRuntime.runMain` runs it: Ctrl-C interrupts the program and the
 * supervisor's graceful shutdown runs before the process exits.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Schema, Stream } from "effect"
import { Task, TaskStore, Tasks } from "@chainjobs/tasks"

// 1. A kind: what it takes, what it returns, how it runs.
const CountBlocks = Task.define("count-blocks", {
  payload: Schema.Struct({ from: Schema.Int, to: Schema.Int }),
  success: Schema.Int,
  policy: { timeout: "1 minute" }
})

// 2. Its handler: the payload, and the task's context (typed by the kind) for progress reports.
const CountBlocksLive = Task.implement(CountBlocks, ({ from, to }, task) =>
  Effect.gen(function*() {
    for (let block = from; block <= to; block++) {
      yield* Effect.sleep("20 millis")
      yield* task.progress(((block - from + 1) / (to - from + 1)) * 100, `block ${block}`)
    }
    return to - from + 1
  }))

// 3. Submit, watch, await.
const program = Effect.gen(function*() {
  const tasks = yield* Tasks.Tasks
  const handle = yield* tasks.submit(CountBlocks, { from: 100, to: 104 })
  yield* Console.log(`submitted ${handle.id}`)
  yield* handle.events.pipe(
    Stream.runForEach((info) => Console.log(`${info.status} ${info.progress}% ${info.message ?? ""}`))
  )
  const blocks = yield* handle.join
  yield* Console.log(`result: ${blocks} blocks`)
})

const Runtime = CountBlocksLive.pipe(
  Layer.provideMerge(Tasks.layer()),
  Layer.provideMerge(TaskStore.layerMemory)
)

NodeRuntime.runMain(program.pipe(Effect.provide(Runtime)))
