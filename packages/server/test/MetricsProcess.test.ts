/**
 * The process gauges of `/metrics` as values, not only as names: open
 * connections go up and back down as clients come and go, every V8 heap
 * space is reported with its size and use, the event-loop delay is in
 * seconds and each sample's is since the sample before, external memory is reported; the scheduler gauges read the
 * fibers' `TurnScheduler` (0 under Effect's own scheduler); the SQLite worker's heap when it is known (a sample
 * goes on without it when it is not); and the bounded
 * `surface` label of a request path.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Exit, Metric, Scheduler } from "effect"
import { connect, type Socket } from "node:net"
import { getHeapSpaceStatistics, getHeapStatistics, type HeapInfo } from "node:v8"
import * as Metrics from "../src/Metrics.ts"
import * as TurnScheduler from "../src/TurnScheduler.ts"
import { baseUrl, request, testServer } from "./http.ts"

/** Every sample of `name`: its labels as written, and its value. */
const samples = (text: string, name: string): Array<{ readonly labels: string; readonly value: number }> =>
  text.split("\n").flatMap((line) => {
    const match = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line)
    return match !== null && match[1] === name ? [{ labels: match[2] ?? "", value: Number(match[3]) }] : []
  })

/** The value of the one sample of `name` whose labels include `label`. */
const valueOf = (text: string, name: string, label = "") => samples(text, name).find((s) => s.labels.includes(label))?.value

const scrape = Effect.map(request("GET", "/metrics"), (reply) => reply.text)

/** Opens `count` TCP connections to the server under test, each connected. */
const openSockets = (count: number) =>
  Effect.flatMap(baseUrl, (base) => {
    const { hostname, port } = new URL(base)
    return Effect.promise(() =>
      Promise.all(Array.from({ length: count }, () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect({ host: hostname, port: Number(port) }, () => resolve(socket))
          socket.once("error", reject)
        })))
    )
  })

layer(testServer(), { excludeTestServices: true })("process metrics", (it) => {
  // The test's own bounds (200 scrapes each way) name what never came; vitest's default 5 s came first on a loaded
  // machine, so its bound is above theirs.
  it.effect("open connections count clients that connect, and fall again when they leave", () =>
    Effect.gen(function*() {
      const sockets = yield* openSockets(4)
      // the server counts a connection once it has accepted it
      let open = valueOf(yield* scrape, "chainjobs_http_connections_open") ?? 0
      for (let tries = 0; open < 4; tries++) {
        assert.isBelow(tries, 200, `${open} open connections counted after four connected`)
        open = valueOf(yield* scrape, "chainjobs_http_connections_open") ?? 0
      }
      for (const socket of sockets) socket.destroy()
      for (let tries = 0;; tries++) {
        const now = valueOf(yield* scrape, "chainjobs_http_connections_open") ?? 0
        if (now <= open - 4) break
        assert.isBelow(tries, 200, `still ${now} open connections after closing four of ${open}`)
        yield* Effect.sleep("50 millis")
      }
    }), 60_000)

  it.effect("every V8 heap space is reported with its size, use and resident pages, and external memory", () =>
    Effect.gen(function*() {
      const text = yield* scrape
      const spaces = getHeapSpaceStatistics().map((space) => space.space_name)
      for (const space of spaces) {
        const size = valueOf(text, "nodejs_heap_space_size_bytes", `space="${space}"`)
        const used = valueOf(text, "nodejs_heap_space_used_bytes", `space="${space}"`)
        assert.isDefined(size, space)
        assert.isDefined(used, space)
        assert.isAtMost(used!, size!, space)
        assert.isAtLeast(valueOf(text, "nodejs_heap_space_physical_bytes", `space="${space}"`) ?? -1, 0, space)
      }
      // The old space has pages in memory once anything lives in it.
      assert.isAbove(valueOf(text, "nodejs_heap_space_physical_bytes", `space="old_space"`) ?? 0, 0)
      assert.isAbove(valueOf(text, "nodejs_heap_space_size_bytes", `space="old_space"`) ?? 0, 0)
      assert.isAbove(valueOf(text, "nodejs_external_memory_bytes") ?? 0, 0)
    }))

  it.effect("the event-loop delay is in seconds: at least the sampling resolution (10 ms), far below a minute", () =>
    Effect.gen(function*() {
      yield* scrape
      yield* Effect.sleep("100 millis")
      const text = yield* scrape
      const max = valueOf(text, "nodejs_eventloop_delay_seconds", `quantile="max"`) ?? -1
      assert.isAtLeast(max, 0.005)
      assert.isBelow(max, 30)
      const median = valueOf(text, "nodejs_eventloop_delay_seconds", `quantile="0.5"`) ?? -1
      assert.isAtLeast(median, 0.005)
      assert.isAtMost(median, max)
    }))
})

describe("surface", () => {
  it("names the part of the service a path belongs to, from a bounded set", () => {
    for (
      const [path, surface] of [
        ["/api/tasks", "api"],
        ["/api/tasks/abc/events", "api"],
        ["/api", "other"],
        ["/rpc", "rpc"],
        ["/rpc/x", "other"],
        ["/ws", "ws"],
        ["/wsx", "other"],
        ["/", "dashboard"],
        ["/metrics", "other"],
        ["", "other"]
      ]
    ) assert.strictEqual(Metrics.surface(path), surface, path)
  })
})

describe("the scheduler gauges", () => {
  /** The scheduler gauges after one process sample on `scheduler`, in a registry of their own. */
  const sampledOn = (scheduler: Scheduler.Scheduler | undefined, queue: () => void) =>
    Effect.scoped(Effect.gen(function*() {
      const sampleProcess = yield* Metrics.processSampler
      queue()
      yield* scheduler === undefined ? sampleProcess : Effect.provideService(sampleProcess, Scheduler.Scheduler, scheduler)
      return { ready: (yield* Metric.value(Metrics.schedulerReady)).value, wait: (yield* Metric.value(Metrics.schedulerWait)).value }
    })).pipe(Effect.provideService(Metric.MetricRegistry, new Map()))

  it.effect("read a TurnScheduler's backlog: the fibers whose work waits for a turn now", () =>
    Effect.gen(function*() {
      const scheduler = TurnScheduler.make()
      // Two fibers' work queued for the coming turn (a check phase away), none run yet.
      const gauges = yield* sampledOn(scheduler, () => {
        scheduler.makeDispatcher().scheduleTask(() => {}, 0)
        scheduler.makeDispatcher().scheduleTask(() => {}, 0)
      })
      assert.deepStrictEqual(gauges, { ready: 2, wait: 0 })
    }))

  it.effect("read 0 under Effect's own scheduler", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* sampledOn(undefined, () => {}), { ready: 0, wait: 0 })
    }))
})

describe("the event-loop delay", () => {
  it.effect("each sample reports the delay since the sample before: a stall shows in the next sample only", () =>
    Effect.scoped(Effect.gen(function*() {
      const sampleProcess = yield* Metrics.processSampler
      const maxDelay = Effect.map(
        Metric.value(Metric.withAttributes(Metrics.eventLoopDelay, { quantile: "max" })),
        (state) => state.value
      )
      const turns = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 30)))
      // The delay monitor's timer measures from its previous tick: it ticks first, then the event loop is held for
      // 500 ms and given turns again, in which the timer sees the stall.
      yield* turns
      const until = Date.now() + 500
      while (Date.now() < until) {
        // held
      }
      yield* turns
      yield* sampleProcess
      const stalled = yield* maxDelay
      assert.isAtLeast(stalled, 0.4)
      // At once: the stall is the previous sample's, not this one's.
      yield* sampleProcess
      assert.isBelow(yield* maxDelay, stalled)
    })).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))
})

describe("the SQLite worker's heap", () => {
  /** The worker heap gauges, by kind, after one process sample reading `heap`, in a registry of their own. */
  const sampledWith = (heap: Effect.Effect<HeapInfo | undefined>) =>
    Effect.scoped(Effect.gen(function*() {
      const sampleProcess = yield* Metrics.processSampler
      yield* sampleProcess
      const kinds = ["used", "total", "physical"] as const
      return yield* Effect.forEach(kinds, (kind) =>
        Effect.map(Metric.value(Metric.withAttributes(Metrics.sqliteWorkerHeap, { kind })), (state) => [kind, state.value] as const))
    })).pipe(
      Effect.provideService(Metrics.SqliteWorkerHeap, heap),
      Effect.provideService(Metric.MetricRegistry, new Map())
    )

  it.effect("a known heap sets the gauges by kind; an unknown one (the thread gone) leaves them and the sample goes on", () =>
    Effect.gen(function*() {
      const known = { ...getHeapStatistics(), used_heap_size: 1_000, total_heap_size: 2_000, total_physical_size: 3_000 }
      assert.deepStrictEqual(yield* sampledWith(Effect.succeed(known)), [["used", 1_000], ["total", 2_000], ["physical", 3_000]])
      const unknown = yield* Effect.exit(sampledWith(Effect.succeed(undefined)))
      assert.isTrue(Exit.isSuccess(unknown), String(unknown))
      if (Exit.isSuccess(unknown)) assert.deepStrictEqual(unknown.value, [["used", 0], ["total", 0], ["physical", 0]])
    }))
})
