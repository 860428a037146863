/**
 * The hot reads' duties beyond the bytes they answer, on the stack-and-front
 * bench of `hotFront.ts`: each read they answer is timed in the service's
 * request-duration histogram under the API surface, its method and status
 * (as the stack's own timing would time it), in seconds; only paths under
 * `/api/tasks/` are theirs; and a task's stream that the
 * client leaves stops listening to the feed at once (not when the task ends),
 * kept alive by the shared keep-alive timer while it is open; and the whole
 * lean front (`makeFront`) hands a POST to the submit path and a GET to the
 * reads.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Metric } from "effect"
import { TaskFeed, TaskStore, Tasks } from "@chainjobs/tasks"
import * as HotReads from "../src/HotReads.ts"
import * as Metrics from "../src/Metrics.ts"
import * as SseKeepAlive from "../src/SseKeepAlive.ts"
import { frontServer, frontServerWith, get, services, submit, tokens } from "./hotFront.ts"

/** The request-duration count of GET requests to the API answered with `status`, in `registry`. */
const timedCount = (registry: Map<any, any>, status: string) =>
  Metric.value(Metric.withAttributes(Metrics.requestDuration, { surface: "api", method: "GET", status })).pipe(
    Effect.map((state) => state.count),
    Effect.provideService(Metric.MetricRegistry, registry)
  )

/** Waits (10 ms apart, at most `attempts` times) until `read` gives `wanted`; fails saying what it saw last. */
const awaitValue = <A>(what: string, read: Effect.Effect<A>, wanted: A, attempts = 300) =>
  Effect.gen(function*() {
    let seen = yield* read
    for (let attempt = 0; attempt < attempts && seen !== wanted; attempt++) {
      yield* Effect.sleep("10 millis")
      seen = yield* read
    }
    assert.strictEqual(seen, wanted, `${what}: still ${String(seen)} after ${attempts} checks 10 ms apart`)
  })

layer(services(TaskStore.layerMemory), { excludeTestServices: true })("HotReads edges", (it) => {
  it.effect("each read answered in front is timed under the API surface, GET and its status", () =>
    Effect.gen(function*() {
      // A registry of this test's own: the counts start at zero.
      const registry = new Map()
      const base = yield* Effect.provideService(frontServer, Metric.MetricRegistry, registry)
      const tasks = yield* Tasks.Tasks
      const task = yield* submit("alice")
      yield* tasks.awaitInfo(task.id)
      const bearer = { authorization: `Bearer ${tokens.alice}` }
      const started = performance.now()
      assert.strictEqual((yield* get(`${base}/api/tasks/${task.id}`, bearer)).status, 200)
      assert.strictEqual((yield* get(`${base}/api/tasks/${task.id}/events`, bearer)).status, 200)
      assert.strictEqual((yield* get(`${base}/api/tasks/${task.id}/events`, { ...bearer, "last-event-id": "end" })).status, 204)
      // Handed to the stack: timed there, not here.
      assert.strictEqual((yield* get(`${base}/api/tasks/${task.id}`)).status, 418)
      // The timing of a response follows its writing: a read may see it a moment after its body.
      yield* awaitValue("GET 200s timed", timedCount(registry, "200"), 2)
      yield* awaitValue("GET 204s timed", timedCount(registry, "204"), 1)
      const elapsedSeconds = (performance.now() - started) / 1000
      assert.strictEqual(yield* timedCount(registry, "418"), 0)
      // In seconds, each within the time the test saw pass around the three reads.
      const timed = yield* Effect.all(["200", "204"].map((status) =>
        Metric.value(Metric.withAttributes(Metrics.requestDuration, { surface: "api", method: "GET", status })).pipe(
          Effect.provideService(Metric.MetricRegistry, registry)
        )
      ))
      for (const state of timed) {
        assert.isTrue(state.min >= 0 && state.sum <= elapsedSeconds, `${JSON.stringify({ min: state.min, sum: state.sum })} within ${elapsedSeconds} s`)
      }
    }))

  it.effect("only URLs under /api/tasks/ are hot: a path of the same length elsewhere goes to the stack", () =>
    Effect.gen(function*() {
      const base = yield* frontServer
      const tasks = yield* Tasks.Tasks
      const task = yield* submit("alice")
      yield* tasks.awaitInfo(task.id)
      const bearer = { authorization: `Bearer ${tokens.alice}` }
      assert.strictEqual((yield* get(`${base}/api/tasks/${task.id}`, bearer)).status, 200)
      for (const prefix of ["/api/tusks/", "/xxxxxxxxx/"]) {
        const elsewhere = yield* get(`${base}${prefix}${task.id}`, bearer)
        assert.deepStrictEqual([elsewhere.status, elsewhere.text], [418, "stack"], prefix)
      }
    }))

  it.effect("a stream the client leaves stops listening at once, and is kept alive while it is open", () =>
    Effect.gen(function*() {
      const base = yield* frontServer
      const feed = yield* TaskFeed.TaskFeed
      const tasks = yield* Tasks.Tasks
      // A minute a block: the task outlasts the test, which interrupts it.
      const task = yield* submit("alice", 60_000)
      yield* Effect.ensuring(
        Effect.gen(function*() {
          const controller = new AbortController()
          const first = yield* Effect.promise(async () => {
            const response = await fetch(`${base}/api/tasks/${task.id}/events?access_token=${tokens.alice}`, {
              signal: controller.signal
            })
            const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
            let text = ""
            while (!text.includes("\n\n")) text += chunk(await reader.read())
            return { status: response.status, text }
          })
          assert.strictEqual(first.status, 200)
          assert.include(first.text, task.id)
          assert.strictEqual((yield* feed.stats).task, 1)
          assert.isAtLeast(SseKeepAlive.stats().streams, 1)
          controller.abort()
          yield* awaitValue("the feed's task listeners after the client left", Effect.map(feed.stats, (stats) => stats.task), 0)
        }),
        tasks.interrupt(task.id).pipe(Effect.ignore)
      )
    }))

  it.effect("the whole lean front answers a submission on the submit path and a read on the reads' path", () =>
    Effect.gen(function*() {
      const base = yield* frontServerWith(HotReads.makeFront)
      const tasks = yield* Tasks.Tasks
      const bearer = { authorization: `Bearer ${tokens.alice}` }
      const submitted = yield* Effect.promise(async () => {
        const response = await fetch(`${base}/api/tasks/demo-scan`, {
          method: "POST",
          headers: { ...bearer, "content-type": "application/json" },
          body: JSON.stringify({ fromBlock: 1, toBlock: 2, delayMillis: 0 })
        })
        return { status: response.status, text: await response.text() }
      })
      assert.strictEqual(submitted.status, 202, submitted.text)
      const { taskId: id } = JSON.parse(submitted.text) as { readonly taskId: string }
      yield* tasks.awaitInfo(id)
      const read = yield* get(`${base}/api/tasks/${id}`, bearer)
      assert.strictEqual(read.status, 200, read.text)
      assert.strictEqual((JSON.parse(read.text) as { readonly status: string }).status, "completed")
    }))
})

/** A read's text; a stream that ends before its first frame fails the test. */
const chunk = (read: { readonly done: boolean; readonly value?: string | undefined }): string => {
  if (read.done || read.value === undefined) throw new Error("the stream ended before its first frame")
  return read.value
}
