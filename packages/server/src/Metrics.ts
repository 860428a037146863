/**
 * Prometheus metrics at `/metrics`. Task metrics are kept from the
 * supervisor's event stream (submissions, outcomes by kind and status,
 * durations — the outcomes its shutdown causes included) and read from its
 * stats at scrape time (queue depth, running
 * tasks by kind, worker limit); request latency of the REST API, RPC and
 * dashboard is timed by a middleware. Every other Effect `Metric` in the
 * process — the chain layer's pool, wait and request metrics — is rendered
 * with them, since all share Effect's metric registry.
 *
 * The process is measured too, at scrape time: resident memory and heap
 * (each space's size, use and resident pages), the heap of the SQLite
 * store's worker thread (a second V8 isolate) when the store has one,
 * event-loop delay (p50, p99 and max since the last scrape), garbage
 * collections by kind and their time, open HTTP connections (WebSockets and
 * event streams included) and event subscribers per stream kind; and, when
 * the fibers run on the service's `TurnScheduler` (the bin's default), how
 * long their work waited for a turn and how many fibers wait now — the run
 * queue of a service short of CPU grows there.
 *
 * @since 0.1.0
 */
import { Clock, Context, Effect, Exit, Layer, Metric, Option, Scheduler, Stream } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import { type TaskEvent, TaskFeed, Tasks } from "@chainjobs/tasks"
import type { Server } from "node:http"
import { constants, monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks"
import { getHeapSpaceStatistics, type HeapInfo } from "node:v8"
import { NodeSqliteClient } from "@chainjobs/store-sql"
import * as TurnScheduler from "./TurnScheduler.ts"

/**
 * The series of a metric, one per set of attributes, each kept as a metric of its own: `make` makes the metric with
 * the attributes baked in — the same series in the registry as `Metric.withAttributes` of the metric without them,
 * but an update neither adds the attributes to the context (a new context per update) nor, when updates of other
 * attributes came between, serializes the series key again: the key is kept on the metric once made. `key` names the
 * attributes' values. For a few series (bounded attributes) updated at a high rate: the task counters, once or twice
 * per task, and the lean paths' request durations.
 */
export const seriesOf = <M>(make: (attributes: Readonly<Record<string, string>>) => M) => {
  const made = new Map<string, M>()
  return (key: string, attributes: Readonly<Record<string, string>>): M => {
    let metric = made.get(key)
    if (metric === undefined) made.set(key, metric = make(attributes))
    return metric
  }
}

/** `submitted`, with `attributes` baked in if given. */
const submittedWith = (attributes?: Readonly<Record<string, string>>) =>
  Metric.counter("chainjobs_tasks_submitted_total", { description: "Tasks accepted by the supervisor", incremental: true, attributes })
/** Tasks accepted, by kind. */
export const submitted = submittedWith()
/** `finished`, with `attributes` baked in if given. */
const finishedWith = (attributes?: Readonly<Record<string, string>>) =>
  Metric.counter("chainjobs_tasks_finished_total", { description: "Tasks that reached a terminal status", incremental: true, attributes })
/** Tasks finished, by kind, status and failure reason. */
export const finished = finishedWith()
/** A histogram of seconds (ten buckets from `start`, each four times the last), with `attributes` baked in if given. */
const secondsWith = (name: string, description: string, start: number) => (attributes?: Readonly<Record<string, string>>) =>
  Metric.histogram(name, { description, boundaries: Metric.exponentialBoundaries({ start, factor: 4, count: 10 }), attributes })
/** `duration`, with `attributes` baked in if given. */
const durationWith = secondsWith("chainjobs_task_duration_seconds", "Run time of finished tasks, from first start to finish", 0.01)
/** Run time of finished tasks (first start to finish), by kind and status. */
export const duration = durationWith()
/** The task counters' and durations' series (`seriesOf`). */
const submittedSeries = seriesOf(submittedWith)
const finishedSeries = seriesOf(finishedWith)
const durationSeries = seriesOf(durationWith)
/** Tasks waiting for a worker (the queue depth). */
export const pending = Metric.gauge("chainjobs_tasks_pending", { description: "Tasks waiting for a worker" })
/** Tasks running, by kind. */
export const running = Metric.gauge("chainjobs_tasks_running", { description: "Tasks running now" })
/** The supervisor's worker limit. */
export const maxWorkers = Metric.gauge("chainjobs_workers_max", { description: "At most this many tasks run at once" })
/** 1 while the supervisor accepts tasks, 0 while it shuts down. */
export const accepting = Metric.gauge("chainjobs_accepting", { description: "1 while new tasks are accepted" })

/** The process's resident set size. */
export const residentMemory = Metric.gauge("process_resident_memory_bytes", { description: "Resident memory size in bytes" })
/** V8 heap in use and allocated, and memory held outside it (buffers). */
export const heapUsed = Metric.gauge("nodejs_heap_used_bytes", { description: "V8 heap in use, in bytes" })
/** @see heapUsed */
export const heapTotal = Metric.gauge("nodejs_heap_total_bytes", { description: "V8 heap allocated, in bytes" })
/** @see heapUsed */
export const externalMemory = Metric.gauge("nodejs_external_memory_bytes", {
  description: "Memory of C++ objects bound to JavaScript (buffers included), in bytes"
})
/** V8 heap spaces' sizes, by `space` (`new_space`, `old_space`, `code_space`, `large_object_space`, …). */
export const heapSpaceSize = Metric.gauge("nodejs_heap_space_size_bytes", { description: "V8 heap space size, by space" })
/** @see heapSpaceSize */
export const heapSpaceUsed = Metric.gauge("nodejs_heap_space_used_bytes", { description: "V8 heap space in use, by space" })
/**
 * V8 heap spaces' resident pages, by `space`: a space is committed whole (the young generation's semi-spaces) but
 * resident only as far as it has been touched, so the RSS follows this, not the size.
 */
export const heapSpacePhysical = Metric.gauge("nodejs_heap_space_physical_bytes", {
  description: "V8 heap space resident in memory, by space"
})
/**
 * The heap of the SQLite store's worker thread, by `kind` (`used`, `total`: committed, `physical`: resident): a
 * second V8 isolate, whose pages none of the main heap's figures count.
 */
export const sqliteWorkerHeap = Metric.gauge("chainjobs_sqlite_worker_heap_bytes", {
  description: "V8 heap of the SQLite worker thread, by kind: used, total (committed), physical (resident)"
})

/** Where the process sampler reads the SQLite worker thread's heap: provided with a store that has such a thread. */
export class SqliteWorkerHeap extends Context.Service<SqliteWorkerHeap, Effect.Effect<HeapInfo | undefined>>()(
  "@chainjobs/server/Metrics/SqliteWorkerHeap"
) {}

/** `SqliteWorkerHeap` from the store's `NodeSqliteClient`. */
export const layerSqliteWorkerHeap: Layer.Layer<SqliteWorkerHeap, never, NodeSqliteClient.NodeSqliteClient> = Layer.effect(
  SqliteWorkerHeap,
  NodeSqliteClient.NodeSqliteClient.useSync((client) => client.workerHeap)
)

/** Event-loop delay since the previous scrape, by `quantile` (`0.5`, `0.99`, `max`). */
export const eventLoopDelay = Metric.gauge("nodejs_eventloop_delay_seconds", {
  description: "Event-loop delay since the previous scrape, by quantile"
})
/** Garbage collections, by kind (`minor`, `major`, `incremental`, `weakcb`). */
export const gcRuns = Metric.counter("nodejs_gc_runs_total", { description: "Garbage collections, by kind", incremental: true })
/** Time spent collecting garbage, by kind. */
export const gcSeconds = Metric.counter("nodejs_gc_duration_seconds_total", {
  description: "Time spent in garbage collection, by kind",
  incremental: true
})
/** Open TCP connections of the HTTP server: requests, event streams and WebSockets alike. */
export const openConnections = Metric.gauge("chainjobs_http_connections_open", { description: "Open HTTP connections" })
/** Open event subscribers, by stream kind (`task`: a task's stream; `all`: `/api/events` and `WatchAll`). */
export const eventSubscribers = Metric.gauge("chainjobs_event_subscribers", { description: "Open event subscribers, by stream kind" })
/** All-tasks event subscribers dropped for falling behind. */
export const eventSubscribersDropped = Metric.counter("chainjobs_event_subscribers_dropped_total", {
  description: "All-tasks event subscribers dropped for falling behind",
  incremental: true
})

/** The longest fiber work waited for a turn of the service's `TurnScheduler` since the previous scrape (0 on Effect's own scheduler). */
export const schedulerWait = Metric.gauge("chainjobs_scheduler_wait_seconds_max", {
  description: "Longest wait of fiber work for its turn of the event loop since the previous scrape"
})
/** Fibers whose work waits for a turn of the service's `TurnScheduler` at the scrape (0 on Effect's own scheduler). */
export const schedulerReady = Metric.gauge("chainjobs_scheduler_ready_fibers", {
  description: "Fibers with work waiting for a turn of the event loop"
})

/** Sets the scheduler gauges from the fiber's scheduler: a `TurnScheduler`'s backlog, else 0. */
const sampleScheduler = Effect.flatMap(Effect.service(Scheduler.Scheduler), (scheduler) => {
  const backlog = scheduler instanceof TurnScheduler.TurnScheduler ? scheduler.backlog() : { waitSeconds: 0, readyFibers: 0 }
  return Effect.andThen(Metric.update(schedulerWait, backlog.waitSeconds), Metric.update(schedulerReady, backlog.readyFibers))
})

/** Open connections of the servers passed to `trackConnections`. */
let connections = 0

/** Counts the server's open connections into `openConnections`; returns the server. */
export const trackConnections = <S extends Server>(server: S): S => {
  server.on("connection", (socket) => {
    connections++
    socket.once("close", () => connections--)
  })
  return server
}

const gcKinds: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "minor",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "major",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weakcb"
}

/**
 * Measures the process for as long as the scope lasts; returns the effect
 * that sets the process gauges (run at each scrape).
 */
export const processSampler = Effect.gen(function*() {
  const workerHeap = yield* Effect.serviceOption(SqliteWorkerHeap)
  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail: { readonly kind?: number } | undefined = (entry as { readonly detail?: { readonly kind?: number } }).detail
      const kind = gcKinds[detail?.kind ?? 0] ?? "other"
      Effect.runSync(Effect.andThen(
        Metric.update(Metric.withAttributes(gcRuns, { kind }), 1),
        Metric.update(Metric.withAttributes(gcSeconds, { kind }), entry.duration / 1000)
      ))
    }
  })
  gc.observe({ entryTypes: ["gc"] })
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      delay.disable()
      gc.disconnect()
    })
  )
  return Effect.suspend(() => {
    const memory = process.memoryUsage()
    const quantiles = { "0.5": delay.percentile(50), "0.99": delay.percentile(99), max: delay.max }
    delay.reset()
    return Effect.all([
      sampleScheduler,
      Metric.update(residentMemory, memory.rss),
      Metric.update(heapUsed, memory.heapUsed),
      Metric.update(heapTotal, memory.heapTotal),
      Metric.update(externalMemory, memory.external),
      Metric.update(openConnections, connections),
      ...getHeapSpaceStatistics().flatMap((space) => [
        Metric.update(Metric.withAttributes(heapSpaceSize, { space: space.space_name }), space.space_size),
        Metric.update(Metric.withAttributes(heapSpaceUsed, { space: space.space_name }), space.space_used_size),
        Metric.update(Metric.withAttributes(heapSpacePhysical, { space: space.space_name }), space.physical_space_size)
      ]),
      Option.match(workerHeap, {
        onNone: () => Effect.void,
        onSome: (heap) =>
          Effect.flatMap(heap, (info) =>
            info === undefined ? Effect.void : Effect.all([
              Metric.update(Metric.withAttributes(sqliteWorkerHeap, { kind: "used" }), info.used_heap_size),
              Metric.update(Metric.withAttributes(sqliteWorkerHeap, { kind: "total" }), info.total_heap_size),
              Metric.update(Metric.withAttributes(sqliteWorkerHeap, { kind: "physical" }), info.total_physical_size)
            ], { discard: true }))
      }),
      ...Object.entries(quantiles).map(([quantile, nanos]) =>
        Metric.update(Metric.withAttributes(eventLoopDelay, { quantile }), Number.isFinite(nanos) ? nanos / 1e9 : 0))
    ], { discard: true })
  })
})

/** `requestDuration`, with `attributes` baked in if given. */
const requestDurationWith = secondsWith(
  "chainjobs_http_request_duration_seconds",
  "Time to respond to a request: REST API, RPC, WebSocket upgrade, dashboard",
  0.001
)

/** Time to respond to an HTTP request (to the first byte of a stream), by surface, method and status. */
export const requestDuration = requestDurationWith()

/** `requestDuration`'s series (`seriesOf`), for the lean paths: one per method and status. */
export const requestDurationSeries = seriesOf(requestDurationWith)

/** Which part of the service a path belongs to: a bounded label, unlike the path itself. */
export const surface = (path: string): string =>
  path.startsWith("/api/") ? "api" : path === "/rpc" ? "rpc" : path === "/ws" ? "ws" : path === "/" ? "dashboard" : "other"

/** Times every request into `requestDuration`. */
export const layerRequestTiming = HttpRouter.middleware((httpEffect) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const started = yield* Clock.currentTimeNanos
    const exit = yield* Effect.exit(httpEffect)
    const seconds = Number((yield* Clock.currentTimeNanos) - started) / 1e9
    const status = Exit.isSuccess(exit) ? exit.value.status : 500
    const attributes = { surface: surface(new URL(request.url, "http://x").pathname), method: request.method, status: String(status) }
    yield* Metric.update(Metric.withAttributes(requestDuration, attributes), seconds)
    return yield* exit
  }), { global: true })

const record = (event: TaskEvent.TaskEvent): Effect.Effect<void> => {
  const info = event.info
  switch (event._tag) {
    case "Submitted":
      return Metric.update(submittedSeries(info.kind, { kind: info.kind }), 1)
    case "Finished": {
      const attributes = { kind: info.kind, status: info.status }
      const reason = info.reason ?? "none"
      const seconds = ((info.finishedAt ?? 0) - (info.startedAt ?? info.createdAt)) / 1000
      // The series' keys: a kind's name is any text, so the parts are joined with a character none holds.
      return Effect.andThen(
        Metric.update(finishedSeries(`${info.kind}\u0000${info.status}\u0000${reason}`, { ...attributes, reason }), 1),
        Metric.update(durationSeries(`${info.kind}\u0000${info.status}`, attributes), Math.max(0, seconds))
      )
    }
    default:
      return Effect.void
  }
}

/** Sets the subscriber gauges from the feed's counts; `dropped` is what the counter held before. */
const sampleFeed = Effect.fnUntraced(function*(feed: TaskFeed.TaskFeed["Service"], dropped: { count: number }) {
  const stats = yield* feed.stats
  yield* Metric.update(Metric.withAttributes(eventSubscribers, { stream: "task" }), stats.task)
  yield* Metric.update(Metric.withAttributes(eventSubscribers, { stream: "all" }), stats.all)
  yield* Metric.update(eventSubscribersDropped, stats.dropped - dropped.count)
  dropped.count = stats.dropped
})

/** Sets the gauges from the supervisor's current stats. */
export const sample = Effect.fnUntraced(function*(tasks: Tasks.Tasks["Service"]) {
  const stats = yield* tasks.stats
  const kinds = yield* tasks.kinds
  yield* Metric.update(pending, stats.pending)
  yield* Metric.update(maxWorkers, stats.maxWorkers)
  yield* Metric.update(accepting, stats.accepting ? 1 : 0)
  for (const kind of kinds) {
    yield* Metric.update(Metric.withAttributes(running, { kind: kind.name }), stats.runningByKind[kind.name] ?? 0)
  }
})

/** Follows the supervisor's events into the task metrics, measures the process, and serves `/metrics`. */
export const layerTasks: Layer.Layer<never, never, HttpRouter.HttpRouter | Tasks.Tasks | TaskFeed.TaskFeed> = Layer
  .effectDiscard(
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const feed = yield* TaskFeed.TaskFeed
      // Not bound to this layer's scope, which closes before the supervisor's shutdown: the fiber ends with the
      // supervisor's events, so the outcomes the shutdown causes (interrupted tasks) are counted too.
      yield* Effect.forkDetach(Stream.runForEach(tasks.events, record), { startImmediately: true })
      const sampleProcess = yield* processSampler
      const dropped = { count: 0 }
      const router = yield* HttpRouter.HttpRouter
      yield* router.add(
        "GET",
        "/metrics",
        sample(tasks).pipe(
          Effect.andThen(sampleProcess),
          Effect.andThen(sampleFeed(feed, dropped)),
          Effect.andThen(PrometheusMetrics.format()),
          Effect.map((body) => HttpServerResponse.text(body, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
        )
      )
    })
  )

/** The task metrics, request timing and `/metrics`. */
export const layer = Layer.merge(layerTasks, layerRequestTiming)
