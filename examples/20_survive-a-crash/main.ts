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
import { Effect, Layer, Option, Schema, Stream } from "effect"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { Task, TaskContext, Tasks } from "@chainjobs/tasks"

// A resumable kind: it checkpoints the last block it processed.
const Sync = Task.define("sync", {
  payload: Schema.Struct({ to: Schema.Int }),
  success: Schema.String,
  policy: { onRestart: "resume" }
})

const SyncLive = Task.implement(Sync, ({ to }) =>
  Effect.gen(function*() {
    const task = yield* TaskContext.TaskContext
    const last = yield* task.lastCheckpoint
    const from = Option.isSome(last) ? (last.value as number) : 0
    for (let block = from + 1; block <= to; block++) {
      yield* Effect.sleep("200 millis")
      yield* task.checkpoint(block)
      yield* task.progress((block / to) * 100, `checkpoint ${block}`)
    }
    return `synced blocks ${from + 1}..${to} in attempt ${task.attempt}`
  }))

const runtime = (file: string) =>
  SyncLive.pipe(Layer.provideMerge(Tasks.layer()), Layer.provideMerge(SqlTaskStore.layerSqlite({ filename: file })))

const worker = (file: string) =>
  Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    const handle = yield* tasks.submit(Sync, { to: 8 })
    console.log(`submitted ${handle.id}`)
    yield* handle.events.pipe(
      Stream.changesWith((a, b) => a.message === b.message),
      Stream.runForEach((info) => Effect.sync(() => info.message !== null && console.log(info.message)))
    )
  }).pipe(Effect.provide(runtime(file)))

const recover = (file: string) =>
  Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    const [stored] = (yield* tasks.list({})).items
    const info = yield* tasks.get(stored.id)
    const handle = yield* tasks.handle(info.id)
    console.log(`after restart: ${info.kind} is ${info.status} again (attempt ${info.attempt}), checkpoint ${String(info.checkpoint)}`)
    console.log(`result: ${yield* handle.join}`)
  }).pipe(Effect.provide(runtime(file)))

if (process.argv[2] === "worker") {
  Effect.runPromise(worker(process.argv[3]))
} else {
  const dir = mkdtempSync(join(tmpdir(), "chainjobs-example-"))
  const file = join(dir, "tasks.db")
  const child = spawn(process.execPath, [import.meta.filename, "worker", file], { stdio: ["ignore", "pipe", "inherit"] })
  const lines = createInterface({ input: child.stdout })
  lines.on("line", (line) => {
    console.log(`worker: ${line}`)
    if (line === "checkpoint 4") {
      child.kill("SIGKILL")
      console.log("worker killed")
    }
  })
  child.on("exit", () =>
    Effect.runPromise(recover(file)).finally(() => rmSync(dir, { recursive: true, force: true })))
}
