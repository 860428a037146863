/**
 * A structured log line per task submission and per outcome, from the
 * supervisor's event stream: `task submitted` and `task completed` /
 * `task failed` / `task interrupted`, annotated with the task's id, kind,
 * owner and attempt (and reason, error and run time when it finished).
 * With the JSON logger of `serve`, each is one JSON line.
 *
 * @since 0.1.0
 */
import { Context, Effect, Fiber, Layer, Stream } from "effect"
import type { TaskEvent } from "@chainjobs/tasks"
import { Tasks } from "@chainjobs/tasks"

/** Logs one task event, if it is a submission or an outcome. */
export const logEvent = (event: TaskEvent.TaskEvent): Effect.Effect<void> => {
  const info = event.info
  const base = { taskId: info.id, kind: info.kind, owner: info.owner ?? "", attempt: info.attempt }
  if (event._tag === "Submitted") return Effect.logInfo("task submitted").pipe(Effect.annotateLogs(base))
  if (event._tag !== "Finished") return Effect.void
  const outcome = {
    ...base,
    ...(info.reason === null ? {} : { reason: info.reason }),
    ...(info.errorMessage === null ? {} : { error: info.errorMessage }),
    ...(info.startedAt === null || info.finishedAt === null ? {} : { durationMillis: info.finishedAt - info.startedAt })
  }
  const line = `task ${info.status}`
  return (info.status === "failed" ? Effect.logWarning(line) : Effect.logInfo(line)).pipe(Effect.annotateLogs(outcome))
}

/** The task log: the fiber writing it, which ends once the supervisor's event stream has ended and been written. */
export class TaskLog extends Context.Service<TaskLog, {
  /** Waits until every event up to the end of the supervisor's stream (its shutdown included) is logged. */
  readonly drained: Effect.Effect<void>
}>()("@chainjobs/server/TaskLog") {}

/**
 * Logs every task's submission and outcome, from the moment the layer is
 * built until the supervisor's event stream ends. The stream ends only after
 * the supervisor's shutdown, so the outcomes a shutdown causes (interrupted
 * tasks) are logged too, though this layer's own scope closes first: the
 * logging fiber is not bound to it (await `drained` after the shutdown), and
 * it subscribes before the layer is built, so no event between the two is
 * missed.
 */
export const layer: Layer.Layer<TaskLog, never, Tasks.Tasks> = Layer.effect(
  TaskLog,
  Tasks.Tasks.use((tasks) =>
    Effect.map(
      Effect.forkDetach(Stream.runForEach(tasks.events, logEvent), { startImmediately: true }),
      (fiber) => TaskLog.of({ drained: Effect.asVoid(Fiber.await(fiber)) })
    ))
)
