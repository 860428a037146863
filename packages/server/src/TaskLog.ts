/**
 * A structured log line per task submission and per outcome, from the
 * supervisor's event stream: `task submitted` and `task completed` /
 * `task failed` / `task interrupted`, annotated with the task's id, kind,
 * owner and attempt (and reason, error and run time when it finished).
 * With the JSON logger of `serve`, each is one JSON line.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Stream } from "effect"
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

/** Logs every task's submission and outcome while the layer lives. */
export const layer: Layer.Layer<never, never, Tasks.Tasks> = Layer.effectDiscard(
  Tasks.Tasks.use((tasks) => Effect.forkScoped(Stream.runForEach(tasks.events, logEvent)))
)
