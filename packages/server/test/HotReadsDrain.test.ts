/**
 * A slow reader of a task's stream on the lean path (`HotReads`): a frame
 * that arrives while the response's buffer is full waits (the latest wins),
 * and goes out as soon as the socket drains — a reader that catches up sees
 * the task's latest state while the task still runs, not only with its end.
 * On the stack-and-front bench of `hotFront.ts`, with a kind of the test's own
 * whose progress reports are a mebibyte each, read by a raw socket that stops
 * reading while they are written.
 */
import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Layer, Schema } from "effect"
import { connect } from "node:net"
import { Principal, Task, TaskAccess, TaskContext, Tasks, TaskStore } from "@chainjobs/tasks"
import { frontServer, services, tokens } from "./hotFront.ts"

/** How many progress reports the bulky task makes, and the characters of each one's message. */
const reports = 16
const reportChars = 1 << 20

/** The gates the running bulky task waits at, by name: before its reports, and after them. */
const gates = new Map<string, Deferred.Deferred<void>>()

/** A task that waits at `before`, reports `reports` bulky progresses (message `report <n> xxx…`), then waits at `after`. */
const Bulky = Task.define("bulky-progress", {
  payload: Schema.Struct({ before: Schema.String, after: Schema.String }),
  success: Schema.Void
})

const bulky = Task.implement(Bulky, ({ after, before }) =>
  Effect.gen(function*() {
    const context = yield* TaskContext.TaskContext
    yield* Deferred.await(gates.get(before)!)
    for (let report = 1; report <= reports; report++) {
      yield* context.progress(report, `report ${report} ${"x".repeat(reportChars)}`)
    }
    yield* Deferred.await(gates.get(after)!)
  }))

const bench = services(TaskStore.layerMemory)

/** Looks every 10 ms, at most 2,000 times (20 s and more), until `done`; then fails naming `what` if it is not. */
const until = (what: string, done: () => boolean) =>
  Effect.gen(function*() {
    for (let look = 0; look < 2_000 && !done(); look++) yield* Effect.sleep("10 millis")
    assert.isTrue(done(), `never: ${what}`)
  })

layer(Layer.merge(bench, bulky.pipe(Layer.provide(bench))), { excludeTestServices: true })("HotReads, a slow reader", (it) => {
  it.effect("a frame that waited for a full buffer goes out when the socket drains, while the task still runs", () =>
    Effect.gen(function*() {
      const base = yield* frontServer
      const before = yield* Deferred.make<void>()
      const after = yield* Deferred.make<void>()
      gates.set("before", before)
      gates.set("after", after)
      const task = yield* Effect.flatMap(TaskAccess.TaskAccess, (access) =>
        access.submit({ kind: "bulky-progress", payload: { before: "before", after: "after" } }).pipe(
          Effect.provideService(Principal.CurrentPrincipal, { id: "alice", admin: false })
        ))
      const peek = Tasks.peeker(yield* Tasks.Tasks)
      // The stream, read until its head and first frame came; then not read at all while the reports are written.
      const { port } = new URL(base)
      let text = ""
      let paused = false
      const socket = connect(Number(port), "127.0.0.1")
      yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
      socket.setEncoding("utf8")
      socket.on("data", (chunk: string) => {
        text += chunk
        if (!paused && text.includes("\n\n")) {
          paused = true
          socket.pause()
        }
      })
      socket.write(`GET /api/tasks/${task.id}/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${tokens.alice}\r\n\r\n`)
      yield* until("the stream's head and first frame", () => text.includes("\n\n"))
      assert.match(text, /^HTTP\/1\.1 200 /, "the lean path's stream")
      yield* Deferred.succeed(before, undefined)
      // Every report made, and each heard by the stream (a turn later at most): the last could not be written.
      yield* until("the last report made", () => peek?.(task.id)?.progress === reports)
      yield* Effect.sleep("200 millis")
      assert.notInclude(text, `report ${reports} `, "written while the reader read nothing")
      // The reader catches up: the last report comes while the task still runs (waits at `after`).
      socket.resume()
      yield* until(`report ${reports} read while the task runs`, () => text.includes(`report ${reports} `))
      assert.isFalse(text.includes("id: end\n"), "the stream ended")
      // The latest wins: reports made while the buffer was full and replaced by a later one never went out.
      const read = [...text.matchAll(/report (\d+) /g)].map((match) => Number(match[1]))
      assert.isBelow(read.length, reports, `reports read: ${read.join(", ")}`)
      assert.strictEqual(read.at(-1), reports)
      yield* Deferred.succeed(after, undefined)
      yield* until("the stream's end", () => text.includes("id: end\n"))
    }).pipe(Effect.scoped), 60_000)
})
