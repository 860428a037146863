/**
 * Define a task kind, implement it, submit a task, follow its progress and
 * await its typed result — all in one process, on the in-memory store.
 */
import { Effect, Layer, Schema, Stream } from "effect"
import { Task, TaskContext, TaskStore, Tasks } from "@chainjobs/tasks"

// 1. A kind: what it takes, what it returns, how it runs.
const CountBlocks = Task.define("count-blocks", {
  payload: Schema.Struct({ from: Schema.Int, to: Schema.Int }),
  success: Schema.Int,
  policy: { timeout: "1 minute" }
})

// 2. Its handler, with progress reports.
const CountBlocksLive = Task.implement(CountBlocks, ({ from, to }) =>
  Effect.gen(function*() {
    const task = yield* TaskContext.TaskContext
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
  console.log(`submitted ${handle.id}`)
  yield* handle.events.pipe(
    Stream.runForEach((info) => Effect.sync(() => console.log(`${info.status} ${info.progress}% ${info.message ?? ""}`)))
  )
  console.log(`result: ${yield* handle.join} blocks`)
})

const Runtime = CountBlocksLive.pipe(
  Layer.provideMerge(Tasks.layer()),
  Layer.provideMerge(TaskStore.layerMemory)
)

Effect.runPromise(program.pipe(Effect.provide(Runtime)))
