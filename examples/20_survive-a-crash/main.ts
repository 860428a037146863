/**
 * A task that survives the death of its process. A worker process runs a
 * resumable task on a SQLite file and is killed with SIGKILL halfway; a new
 * runtime on the same file resumes the task from its last checkpoint.
 *
 * Run with no argument: this file starts itself as the worker.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createInterface } from "node:readline"
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Option, Queue, Schema, Stream } from "effect"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { Task, Tasks } from "@chainjobs/tasks"

// A resumable kind: its checkpoint (the last block it processed) is typed by a Schema.
const Sync = Task.define("sync", {
  payload: Schema.Struct({ to: Schema.Int }),
  success: Schema.String,
  checkpoint: Schema.Int,
  policy: { onRestart: "resume" }
})

const SyncLive = Task.implement(Sync, ({ to }, task) =>
  Effect.gen(function*() {
    const last = yield* task.lastCheckpoint
    const from = Option.getOrElse(last, () => 0)
    for (let block = from + 1; block <= to; block++) {
      yield* Effect.sleep("200 millis")
      yield* task.checkpoint(block)
      yield* task.progress((block / to) * 100, `checkpoint ${block}`)
    }
    return `synced blocks ${from + 1}..${to} in attempt ${task.attempt}`
  }))

const runtime = (file: string) =>
  SyncLive.pipe(Layer.provideMerge(Tasks.layer()), Layer.provideMerge(SqlTaskStore.layerSqlite({ filename: file })))

/** The worker: submits the task and prints each new progress message until it is killed. */
const worker = (file: string) =>
  Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    const handle = yield* tasks.submit(Sync, { to: 8 })
    yield* Console.log(`submitted ${handle.id}`)
    yield* handle.events.pipe(
      Stream.changesWith((a, b) => a.message === b.message),
      Stream.runForEach((info) => info.message === null ? Effect.void : Console.log(info.message))
    )
  }).pipe(Effect.provide(runtime(file)))

/** After the crash: a new runtime on the same file finds the task and awaits it, typed by its kind. */
const recover = (file: string) =>
  Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    const [stored] = (yield* tasks.list({})).items
    const handle = yield* tasks.handle(stored.id, Sync)
    const info = yield* handle.info
    yield* Console.log(
      `after restart: ${info.kind} is ${info.status} again (attempt ${info.attempt}), checkpoint ${String(info.checkpoint)}`
    )
    const result = yield* handle.join
    yield* Console.log(`result: ${result}`)
  }).pipe(Effect.provide(runtime(file)))

/** The parent: starts the worker, kills it at checkpoint 4, then recovers the task from the file. */
const supervise = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => mkdtempSync(join(tmpdir(), "chainjobs-example-"))),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
  )
  const file = join(dir, "tasks.db")
  const child = spawn(process.execPath, [import.meta.filename, "worker", file], { stdio: ["ignore", "pipe", "inherit"] })
  const exited = Effect.callback<void>((resume) => {
    child.on("exit", () => resume(Effect.void))
  })
  const lines = Stream.callback<string>((queue) =>
    Effect.sync(() => {
      const reader = createInterface({ input: child.stdout })
      reader.on("line", (line) => Queue.offerUnsafe(queue, line))
      reader.on("close", () => Queue.endUnsafe(queue))
    })
  )
  yield* Stream.runForEach(lines, (line) =>
    Effect.gen(function*() {
      yield* Console.log(`worker: ${line}`)
      if (line === "checkpoint 4") {
        child.kill("SIGKILL")
        yield* Console.log("worker killed")
      }
    }))
  yield* exited
  yield* recover(file)
})

if (process.argv[2] === "worker") NodeRuntime.runMain(worker(process.argv[3]))
else NodeRuntime.runMain(Effect.scoped(supervise))
