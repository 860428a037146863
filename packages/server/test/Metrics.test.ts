import { assert, describe, it, layer } from "@effect/vitest"
import { TasksConfig } from "@chainjobs/tasks"
import { Duration, Effect, Layer, Metric } from "effect"
import * as Net from "node:net"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"
import * as Metrics from "../src/Metrics.ts"
import { baseUrl, openEvents, request, testServer } from "./http.ts"

/** The value of the first sample of `name` whose labels include every one of `labels`. */
const sample = (text: string, name: string, labels: Record<string, string> = {}): number | undefined => {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const set = match[2] ?? ""
    if (Object.entries(labels).every(([key, value]) => set.includes(`${key}="${value}"`))) return Number(match[3])
  }
  return undefined
}

// A registry of the file's own: the counts below start at zero even when other test files ran in this
// process before (the mutation runs load every test file into one vitest worker, with one global registry).
layer(testServer().pipe(Layer.provide(Layer.succeed(Metric.MetricRegistry, new Map()))), { excludeTestServices: true })("metrics", (it) => {
  it.effect("/metrics renders task counts by kind and status, durations and queue depth in Prometheus text", () =>
    Effect.gen(function*() {
      yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: { fromBlock: 1, toBlock: 2, delayMillis: 0 } })
      yield* request("POST", "/api/tasks/demo-fail?wait=true", { body: { steps: 0, delayMillis: 0 } })
      const running = yield* request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 0, toBlock: 1_000_000, delayMillis: 1000 } })
      const metrics = yield* request("GET", "/metrics")
      assert.strictEqual(metrics.status, 200)
      // The Prometheus text exposition format, version 0.0.4: what a scraper reads the body as.
      assert.strictEqual(metrics.contentType, "text/plain; version=0.0.4; charset=utf-8")
      const text = metrics.text
      assert.include(text, "# TYPE chainjobs_tasks_submitted_total counter")
      // Each metric's description is its help line, the same whichever series of it was updated first.
      assert.include(text, "# HELP chainjobs_tasks_submitted_total Tasks accepted by the supervisor")
      assert.include(text, "# HELP chainjobs_tasks_finished_total Tasks that reached a terminal status")
      assert.include(text, "# HELP chainjobs_task_duration_seconds Run time of finished tasks, from first start to finish")
      assert.include(text, "# TYPE chainjobs_task_duration_seconds histogram")
      assert.strictEqual(sample(text, "chainjobs_tasks_submitted_total", { kind: "demo-scan" }), 2)
      assert.strictEqual(sample(text, "chainjobs_tasks_submitted_total", { kind: "demo-fail" }), 1)
      assert.strictEqual(sample(text, "chainjobs_tasks_finished_total", { kind: "demo-scan", status: "completed" }), 1)
      assert.strictEqual(
        sample(text, "chainjobs_tasks_finished_total", { kind: "demo-fail", status: "failed", reason: "error" }),
        1
      )
      assert.strictEqual(sample(text, "chainjobs_task_duration_seconds_count", { kind: "demo-scan", status: "completed" }), 1)
      assert.strictEqual(sample(text, "chainjobs_tasks_running", { kind: "demo-scan" }), 1)
      // A kind with no task running now reads 0.
      assert.strictEqual(sample(text, "chainjobs_tasks_running", { kind: "demo-fail" }), 0)
      assert.strictEqual(sample(text, "chainjobs_tasks_pending"), 0)
      assert.strictEqual(sample(text, "chainjobs_workers_max"), TasksConfig.defaults.maxWorkers)
      assert.strictEqual(sample(text, "chainjobs_accepting"), 1)
      // Requests so far: three submissions (202 and two 200s with wait=true) before this scrape.
      assert.strictEqual(
        sample(text, "chainjobs_http_request_duration_seconds_count", { surface: "api", method: "POST", status: "202" }),
        1
      )
      assert.strictEqual(
        sample(text, "chainjobs_http_request_duration_seconds_count", { surface: "api", method: "POST", status: "200" }),
        2
      )
      yield* request("DELETE", `/api/tasks/${running.body.taskId}`)
    }))

  it.effect("/metrics measures the process: memory, heap, event-loop delay, open connections and event subscribers per stream", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const long = yield* request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 0, toBlock: 1_000_000, delayMillis: 1000 } })
      const all = yield* Effect.promise(() => openEvents(`${base}/api/events`))
      const one = yield* Effect.promise(() => openEvents(`${base}${long.body.eventsUrl}`))
      yield* Effect.promise(() => one.until((record) => record.id === long.body.taskId))
      const text = (yield* request("GET", "/metrics")).text
      assert.isAbove(sample(text, "process_resident_memory_bytes") ?? 0, 0)
      assert.isAbove(sample(text, "nodejs_heap_used_bytes") ?? 0, 0)
      assert.isAbove(sample(text, "nodejs_heap_total_bytes") ?? 0, 0)
      for (const quantile of ["0.5", "0.99", "max"]) {
        assert.isAtLeast(sample(text, "nodejs_eventloop_delay_seconds", { quantile }) ?? -1, 0)
      }
      assert.strictEqual(sample(text, "chainjobs_event_subscribers", { stream: "all" }), 1)
      assert.strictEqual(sample(text, "chainjobs_event_subscribers", { stream: "task" }), 1)
      // The two event streams and the scrape's own connection, at least.
      assert.isAtLeast(sample(text, "chainjobs_http_connections_open") ?? 0, 3)
      all.close()
      one.close()
      yield* request("DELETE", `/api/tasks/${long.body.taskId}`)
    }))

  it.effect("a submission whose client breaks off its body is timed, and not as a 413: only a body over the limit is one", () =>
    Effect.gen(function*() {
      // Every POST of the API timed so far, by status.
      const posts = (text: string) =>
        new Map(text.split("\n").flatMap((line) => {
          const match = /^chainjobs_http_request_duration_seconds_count\{(.*)\} (\S+)$/.exec(line)
          return match !== null && match[1].includes(`surface="api"`) && match[1].includes(`method="POST"`)
            ? [[/status="(\d+)"/.exec(match[1])?.[1], Number(match[2])] as const]
            : []
        }))
      const total = (counts: Map<string | undefined, number>) => [...counts.values()].reduce((a, b) => a + b, 0)
      const before = posts((yield* request("GET", "/metrics")).text)
      const { port } = new URL(yield* baseUrl)
      yield* Effect.callback<void>((resume) => {
        const socket = Net.connect(Number(port), "127.0.0.1", () =>
          socket.write(
            "POST /api/purge HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
              "Content-Length: 100\r\nExpect: 100-continue\r\n\r\n"
          ))
        // "100 Continue" comes once the service reads the body: 12 of its 100 bytes, then the connection is gone.
        socket.once("data", () => socket.end(`{"olderThan"`, () => socket.destroy()))
        socket.on("close", () => resume(Effect.void))
        socket.on("error", () => undefined)
      })
      // The service times the request once it has seen the body end; look for it a bounded number of times.
      let after = posts((yield* request("GET", "/metrics")).text)
      for (let tries = 0; total(after) === total(before) && tries < 100; tries++) {
        yield* Effect.sleep("50 millis")
        after = posts((yield* request("GET", "/metrics")).text)
      }
      assert.strictEqual(total(after) - total(before), 1, `the broken-off submission is timed: ${JSON.stringify([...after])}`)
      assert.strictEqual(after.get("413") ?? 0, before.get("413") ?? 0, "it is not counted as a body over the limit")
    }))
})

describe("metrics at shutdown", () => {
  it.live("the outcomes a shutdown causes are counted (every task it interrupts)", () =>
    Effect.gen(function*() {
      // A registry of this test's own: the counts start at zero.
      const registry = new Map()
      const interruptedCount = Metric.value(
        Metric.withAttributes(Metrics.finished, { kind: "demo-scan", status: "interrupted", reason: "none" })
      ).pipe(Effect.map((state) => state.count), Effect.provideService(Metric.MetricRegistry, registry))
      const tasks = 3
      yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* Layer.build(testServer())
        const submit = request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 0, toBlock: 1_000_000, delayMillis: 1000 } })
        for (let i = 0; i < tasks; i++) yield* Effect.provideContext(submit, server)
      })).pipe(Effect.provideService(Metric.MetricRegistry, registry))
      // The service has stopped; its metrics fiber may still be writing the last events down.
      let counted = yield* interruptedCount
      while (counted < tasks) {
        yield* Effect.sleep("10 millis")
        counted = yield* interruptedCount
      }
      assert.strictEqual(counted, tasks)
      const submitted = yield* Metric.value(Metric.withAttributes(Metrics.submitted, { kind: "demo-scan" })).pipe(
        Effect.provideService(Metric.MetricRegistry, registry)
      )
      assert.strictEqual(submitted.count, tasks)
    }), 20_000)
})

/** A full garbage collection now (V8's `gc`, exposed to this process for the purpose). */
const collectGarbage = () => {
  setFlagsFromString("--expose-gc")
  ;(runInNewContext("gc") as () => void)()
}

// The collector's observer counts into the process's registry (it runs outside any fiber), so this block
// reads the default registry and compares a scrape with the one before.
layer(testServer(), { excludeTestServices: true })("metrics of the process's registry", (it) => {
  it.effect("a full garbage collection is counted as major, with a duration in seconds", () =>
    Effect.gen(function*() {
      const runs = (text: string) => sample(text, "nodejs_gc_runs_total", { kind: "major" }) ?? 0
      const seconds = (text: string) => sample(text, "nodejs_gc_duration_seconds_total", { kind: "major" }) ?? 0
      const before = (yield* request("GET", "/metrics")).text
      collectGarbage()
      // The observer hears of the collection after it; look until it did (the test's timeout bounds the wait).
      let after = before
      while (runs(after) === runs(before)) {
        yield* Effect.sleep("50 millis")
        after = (yield* request("GET", "/metrics")).text
      }
      assert.isAbove(runs(after), runs(before))
      const spent = seconds(after) - seconds(before)
      // A collection of a test process takes milliseconds: more than 0, far less than a minute.
      assert.isAbove(spent, 0)
      assert.isBelow(spent, 60)
    }), 60_000)

  it.effect("a request's time is measured in seconds, by surface, method and status", () =>
    Effect.gen(function*() {
      const labels = { surface: "api", method: "GET", status: "200" }
      const sum = (text: string) => sample(text, "chainjobs_http_request_duration_seconds_sum", labels) ?? 0
      const count = (text: string) => sample(text, "chainjobs_http_request_duration_seconds_count", labels) ?? 0
      const before = (yield* request("GET", "/metrics")).text
      yield* request("GET", "/api/kinds")
      const after = (yield* request("GET", "/metrics")).text
      assert.strictEqual(count(after) - count(before), 1)
      const spent = sum(after) - sum(before)
      assert.isAbove(spent, 0)
      assert.isBelow(spent, 60)
    }))
})

// A registry of its own, as the first block: the task duration's sum below is this one task's alone. One
// worker, so that the measured task waits behind another: its duration starts when it starts, not when submitted.
layer(
  testServer({ tasks: TasksConfig.make({ maxWorkers: 1, shutdownGracePeriod: Duration.seconds(1) }) }).pipe(
    Layer.provide(Layer.succeed(Metric.MetricRegistry, new Map()))
  ),
  { excludeTestServices: true }
)("a task's duration", (it) => {
  it.effect("is the time from its start to its end, in seconds, as its record tells them", () =>
    Effect.gen(function*() {
      yield* request("POST", "/api/tasks/demo-fail", { body: { steps: 3, delayMillis: 40 } })
      const done = yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: { fromBlock: 1, toBlock: 3, delayMillis: 30 } })
      const record = (yield* request("GET", `/api/tasks/${done.body.id}`)).body
      assert.strictEqual(record.status, "completed", JSON.stringify(record))
      assert.isAbove(record.startedAt, record.createdAt, `it waited for the one worker: ${JSON.stringify(record)}`)
      const text = (yield* request("GET", "/metrics")).text
      const labels = { kind: "demo-scan", status: "completed" }
      assert.strictEqual(sample(text, "chainjobs_task_duration_seconds_count", labels), 1)
      const seconds = sample(text, "chainjobs_task_duration_seconds_sum", labels) ?? Number.NaN
      // Three blocks 30 ms apart: more than 0.05 s; the record's own times to the millisecond.
      assert.isAbove(seconds, 0.05)
      assert.closeTo(seconds, (record.finishedAt - record.startedAt) / 1000, 1e-9, JSON.stringify(record))
    }))

  it.effect("of a task interrupted before it started is the time from its submission to its end", () =>
    Effect.gen(function*() {
      // The one worker busy with a long scan; the second waits for it and is interrupted while it waits.
      yield* request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 0, toBlock: 1_000_000, delayMillis: 1000 } })
      const waiting = yield* request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 1, toBlock: 2, delayMillis: 0 } })
      const record = (yield* request("POST", `/api/tasks/${waiting.body.taskId}/interrupt`)).body
      assert.strictEqual(record.status, "interrupted", JSON.stringify(record))
      assert.isNull(record.startedAt, JSON.stringify(record))
      const labels = { kind: "demo-scan", status: "interrupted" }
      // The metrics fiber follows the events: the interruption may be counted a moment after its answer.
      let text = (yield* request("GET", "/metrics")).text
      while (sample(text, "chainjobs_task_duration_seconds_count", labels) !== 1) {
        yield* Effect.sleep("10 millis")
        text = (yield* request("GET", "/metrics")).text
      }
      const seconds = sample(text, "chainjobs_task_duration_seconds_sum", labels) ?? Number.NaN
      assert.closeTo(seconds, (record.finishedAt - record.createdAt) / 1000, 1e-9, JSON.stringify(record))
    }))
})
