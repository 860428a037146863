/**
 * Prometheus metrics at `/metrics`. Task metrics are kept from the
 * supervisor's event stream (submissions, outcomes by kind and status,
 * durations) and read from its stats at scrape time (queue depth, running
 * tasks by kind, worker limit); request latency of the REST API, RPC and
 * dashboard is timed by a middleware. Every other Effect `Metric` in the
 * process — the chain layer's pool, wait and request metrics — is rendered
 * with them, since all share Effect's metric registry.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Exit, Layer, Metric, Stream } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { PrometheusMetrics } from "effect/observability"
import type { TaskEvent } from "@chainjobs/tasks"
import { Tasks } from "@chainjobs/tasks"

/** Tasks accepted, by kind. */
export const submitted = Metric.counter("chainjobs_tasks_submitted_total", {
  description: "Tasks accepted by the supervisor",
  incremental: true
})
/** Tasks finished, by kind, status and failure reason. */
export const finished = Metric.counter("chainjobs_tasks_finished_total", {
  description: "Tasks that reached a terminal status",
  incremental: true
})
/** Run time of finished tasks (first start to finish), by kind and status. */
export const duration = Metric.histogram("chainjobs_task_duration_seconds", {
  description: "Run time of finished tasks, from first start to finish",
  boundaries: Metric.exponentialBoundaries({ start: 0.01, factor: 4, count: 10 })
})
/** Tasks waiting for a worker (the queue depth). */
export const pending = Metric.gauge("chainjobs_tasks_pending", { description: "Tasks waiting for a worker" })
/** Tasks running, by kind. */
export const running = Metric.gauge("chainjobs_tasks_running", { description: "Tasks running now" })
/** The supervisor's worker limit. */
export const maxWorkers = Metric.gauge("chainjobs_workers_max", { description: "At most this many tasks run at once" })
/** 1 while the supervisor accepts tasks, 0 while it shuts down. */
export const accepting = Metric.gauge("chainjobs_accepting", { description: "1 while new tasks are accepted" })

/** Time to respond to an HTTP request (to the first byte of a stream), by surface, method and status. */
export const requestDuration = Metric.histogram("chainjobs_http_request_duration_seconds", {
  description: "Time to respond to a request: REST API, RPC, WebSocket upgrade, dashboard",
  boundaries: Metric.exponentialBoundaries({ start: 0.001, factor: 4, count: 10 })
})

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
      return Metric.update(Metric.withAttributes(submitted, { kind: info.kind }), 1)
    case "Finished": {
      const attributes = { kind: info.kind, status: info.status }
      const seconds = ((info.finishedAt ?? 0) - (info.startedAt ?? info.createdAt)) / 1000
      return Effect.andThen(
        Metric.update(Metric.withAttributes(finished, { ...attributes, reason: info.reason ?? "none" }), 1),
        Metric.update(Metric.withAttributes(duration, attributes), Math.max(0, seconds))
      )
    }
    default:
      return Effect.void
  }
}

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

/** Follows the supervisor's events into the task metrics and serves `/metrics`. */
export const layerTasks: Layer.Layer<never, never, HttpRouter.HttpRouter | Tasks.Tasks> = Layer.effectDiscard(
  Effect.gen(function*() {
    const tasks = yield* Tasks.Tasks
    yield* Effect.forkScoped(Stream.runForEach(tasks.events, record))
    const router = yield* HttpRouter.HttpRouter
    yield* router.add(
      "GET",
      "/metrics",
      Effect.andThen(
        sample(tasks),
        Effect.map(PrometheusMetrics.format(), (body) =>
          HttpServerResponse.text(body, { contentType: "text/plain; version=0.0.4; charset=utf-8" }))
      )
    )
  })
)

/** The task metrics, request timing and `/metrics`. */
export const layer = Layer.merge(layerTasks, layerRequestTiming)
