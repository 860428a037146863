/**
 * The client's reading of a final task record: the typed `Exit` it stands
 * for, decoded with the kind's success and error Schemas. (The supervisor does
 * the same for local handles; its helper is internal to `@chainjobs/tasks`.)
 */
import { Effect, Exit, Schema } from "effect"
import { type Task, TaskError } from "@chainjobs/tasks"
import type { TaskOutcome } from "../TaskRpcs.ts"

const decodeStored = (info: TaskOutcome, schema: Task.PlainSchema, value: unknown) =>
  Effect.mapError(
    Schema.decodeUnknownEffect(schema)(value),
    (error) => new TaskError.ResultDecodeError({ id: info.id, message: `task ${info.id}: ${error.message}` })
  )

/** The `Exit` a final record stands for. A record that is not final (the server stopped first) reads as an interruption. */
export const outcome = (
  info: TaskOutcome,
  kind: Task.Any
): Effect.Effect<Exit.Exit<unknown, unknown>, TaskError.ResultDecodeError> => {
  if (info.status === "completed") return Effect.map(decodeStored(info, kind.success, info.result), Exit.succeed)
  if (info.status !== "failed") return Effect.succeed(Exit.interrupt())
  const reason = info.reason
  if (reason === "error") return Effect.map(decodeStored(info, kind.error, info.error), Exit.fail)
  if (reason === "timeout" || reason === "heartbeat" || reason === "lost") {
    return Effect.succeed(Exit.fail(new TaskError.TaskAborted({ id: info.id, reason, message: info.errorMessage ?? reason })))
  }
  return Effect.succeed(Exit.die(new Error(info.errorMessage ?? `task ${info.id} died`)))
}
