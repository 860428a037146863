/**
 * Schema glue of the supervisor: payload validation that names the bad field,
 * and the encoding of results and errors into (and out of) task records.
 */
import { Cause, Effect, Exit, Option, Schema, SchemaIssue } from "effect"
import { InvalidPayload, ResultDecodeError, TaskAborted } from "../TaskError.ts"
import type { TaskInfo } from "../TaskInfo.ts"
import type { PlainSchema } from "../Task.ts"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Turns a Schema failure on a payload into `InvalidPayload`, naming each bad field. */
export const invalidPayload = (kind: string, issue: SchemaIssue.Issue): InvalidPayload => {
  const issues = formatter(issue).issues.map((i) => ({
    path: (i.path ?? []).map((key) => String(typeof key === "object" && key !== null && "key" in key ? key.key : key)),
    message: i.message
  }))
  const described = issues.map((i) => (i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message))
  return new InvalidPayload({ kind, issues, message: `invalid payload for task kind "${kind}": ${described.join("; ")}` })
}

/** Validates a typed payload and returns its encoded form, or fails with `InvalidPayload`. */
export const encodePayload = (kind: string, schema: PlainSchema, payload: unknown): Exit.Exit<unknown, InvalidPayload> =>
  Exit.mapError(Schema.encodeUnknownExit(schema)(payload), (error) => invalidPayload(kind, error.issue))

/** Decodes an encoded payload (from a remote caller or a stored record), or fails with `InvalidPayload`. */
export const decodePayload = (kind: string, schema: PlainSchema, encoded: unknown): Exit.Exit<unknown, InvalidPayload> =>
  Exit.mapError(Schema.decodeUnknownExit(schema)(encoded), (error) => invalidPayload(kind, error.issue))

/** The outcome of a finished task, decoded from its record with its kind's Schemas. */
export const exitFromInfo = (
  info: TaskInfo,
  success: PlainSchema,
  error: PlainSchema
): Effect.Effect<Exit.Exit<unknown, unknown>, ResultDecodeError> => {
  const decodeWith = (schema: PlainSchema, value: unknown, what: string) =>
    Schema.decodeUnknownEffect(schema)(value).pipe(
      Effect.mapError((e) => new ResultDecodeError({ id: info.id, message: `stored ${what} does not decode: ${e.message}` }))
    )
  switch (info.status) {
    case "completed":
      return Effect.map(decodeWith(success, info.result, "result"), Exit.succeed)
    case "interrupted":
      return Effect.succeed(Exit.interrupt())
    case "failed":
      switch (info.reason) {
        case "error":
          return Effect.map(decodeWith(error, info.error, "error"), Exit.fail)
        case "timeout":
        case "heartbeat":
        case "lost":
          return Effect.succeed(
            Exit.fail(new TaskAborted({ id: info.id, reason: info.reason, message: info.errorMessage ?? info.reason }))
          )
        default:
          return Effect.succeed(Exit.die(new Error(info.errorMessage ?? "task died")))
      }
    default:
      return Effect.die(new Error(`task ${info.id} has not finished`))
  }
}

/** The terminal fields of a record for a failed attempt's cause. */
export const describeFailure = (
  cause: Cause.Cause<unknown>,
  errorSchema: PlainSchema
): Pick<TaskInfo, "status" | "reason" | "error" | "errorMessage"> => {
  const failure = Cause.findErrorOption(cause)
  if (Option.isSome(failure)) {
    const e = failure.value
    if (e instanceof TaskAborted) return { status: "failed", reason: e.reason, error: null, errorMessage: e.message }
    const encoded = Schema.encodeUnknownExit(errorSchema)(e)
    if (Exit.isSuccess(encoded)) {
      return { status: "failed", reason: "error", error: encoded.value, errorMessage: messageOf(e) }
    }
    return {
      status: "failed",
      reason: "defect",
      error: null,
      errorMessage: `the handler failed with an error its kind's Schema does not describe: ${messageOf(e)}`
    }
  }
  if (Cause.hasDies(cause)) return { status: "failed", reason: "defect", error: null, errorMessage: Cause.pretty(cause) }
  return { status: "interrupted", reason: null, error: null, errorMessage: null }
}

const messageOf = (e: unknown): string =>
  e instanceof Error ? `${e.name}: ${e.message}` : typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : String(e)
