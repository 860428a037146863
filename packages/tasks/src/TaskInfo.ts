/**
 * The record of one task: what it is, where it stands, and what it produced.
 *
 * A `TaskInfo` is plain data (a `Schema.Struct`), so the same value is kept in
 * memory, written by every store, sent over RPC and shown on the dashboard.
 * Payload, result, error and checkpoint are held *encoded* through the task
 * kind's Schemas; the supervisor decodes them when a caller awaits a result.
 * Timestamps are epoch milliseconds taken from Effect's `Clock`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import * as HiddenField from "./HiddenField.ts"
import { uuidv7 } from "./internal/uuid.ts"

/** Where a task stands in its lifecycle: pending → running → completed | failed | interrupted. */
export const TaskStatus = Schema.Literals(["pending", "running", "completed", "failed", "interrupted"])
/** @see TaskStatus */
export type TaskStatus = typeof TaskStatus.Type

/** True once a task has reached a status it never leaves. */
export const isTerminal = (status: TaskStatus): boolean =>
  status === "completed" || status === "failed" || status === "interrupted"

/**
 * Why a task failed: its handler's typed `error`, a `defect` (a thrown
 * exception or `Effect.die`), its `timeout`, a missed `heartbeat`, or `lost`
 * (the process running it died and its kind does not resume).
 */
export const FailureReason = Schema.Literals(["error", "defect", "timeout", "heartbeat", "lost"])
/** @see FailureReason */
export type FailureReason = typeof FailureReason.Type

/** The record of one task, as every store keeps it and every client sees it. */
export const TaskInfo = Schema.Struct({
  /** Unique, time-ordered id (UUID v7). */
  id: Schema.String,
  /** The task kind's name. */
  kind: Schema.String,
  status: TaskStatus,
  /** Set when `status` is `failed`. */
  reason: Schema.NullOr(FailureReason),
  /** Higher runs first; FIFO within one priority. */
  priority: Schema.Number,
  /** The concurrency key derived from the payload, if the kind has one. */
  key: Schema.NullOr(Schema.String),
  /** The principal that submitted the task, if any. */
  owner: Schema.NullOr(Schema.String),
  /** 1 for the first run; grows with every retry and every resume after a restart. */
  attempt: Schema.Number,
  /** Progress in percent, 0 to 100. */
  progress: Schema.Number,
  /** The last progress message. */
  message: Schema.NullOr(Schema.String),
  /** The last progress detail, encoded with the kind's detail Schema (null when none was reported). */
  detail: Schema.Unknown,
  /** The payload, encoded through the kind's payload Schema. */
  payload: Schema.Unknown,
  /** The success value, encoded through the kind's success Schema (when completed). */
  result: Schema.Unknown,
  /** The typed error, encoded through the kind's error Schema (when failed with reason `error`). */
  error: Schema.Unknown,
  /** A human-readable account of the failure (any reason). */
  errorMessage: Schema.NullOr(Schema.String),
  /** The last checkpoint the handler saved, as the handler gave it (JSON). */
  checkpoint: Schema.Unknown,
  createdAt: Schema.Number,
  startedAt: Schema.NullOr(Schema.Number),
  finishedAt: Schema.NullOr(Schema.Number),
  /** Last heartbeat (a progress report counts as one). */
  heartbeatAt: Schema.NullOr(Schema.Number),
  /** When a finished record may be purged (finishedAt + the kind's retention). */
  expiresAt: Schema.NullOr(Schema.Number),
  /** The submission's time limit of one attempt, in milliseconds, over the kind's (absent: the kind's). */
  timeoutMillis: Schema.optionalKey(Schema.Number),
  /** The submission's heartbeat timeout, in milliseconds, over the kind's (absent: the kind's). */
  heartbeatTimeoutMillis: Schema.optionalKey(Schema.Number),
  /** The submission's cap on retries of failed attempts (absent: the kind's retry policy). */
  retries: Schema.optionalKey(Schema.Number),
  /** The runner (`host:port`) that runs or last ran the task, in a cluster of runners; absent in a single process. */
  runner: Schema.optionalKey(Schema.String)
})
/** @see TaskInfo */
export type TaskInfo = typeof TaskInfo.Type

const encodeJson = Schema.encodeExit(Schema.toCodecJson(TaskInfo))
/**
 * The text made for a record, kept on it as long as it lives (records are never mutated): a hidden field, not a
 * `WeakMap` entry — one ephemeron per record was what grew the service's C heap under load (`HiddenField`).
 */
const jsonTexts = HiddenField.make<string>()

/** A field's check as `TaskInfo`'s JSON encoding makes it, for a value it passes through unchanged. */
type FieldCheck = (value: unknown) => boolean

const isString: FieldCheck = (value) => typeof value === "string"
/** A number the JSON encoding writes as itself (it writes a non-finite one as a string: left to the Schema). */
const isFinite: FieldCheck = (value) => typeof value === "number" && Number.isFinite(value)
/** The Schema's own JSON-value test (plain objects, arrays, strings, finite numbers, booleans, null; no cycle). */
const isJson: FieldCheck = Schema.is(Schema.Json)
const orNull = (check: FieldCheck): FieldCheck => (value) => value === null || check(value)
const oneOf = (values: ReadonlyArray<string>): FieldCheck => {
  const set: ReadonlySet<unknown> = new Set(values)
  return (value) => set.has(value)
}

/**
 * `TaskInfo`'s fields in its order, each with the check its JSON encoding makes of a value it passes through as it
 * is, and whether it may be absent (`optionalKey`). The `Unknown` fields are checked as the Schema checks them, with
 * its own JSON-value test.
 */
export const plainFields: ReadonlyArray<readonly [key: keyof TaskInfo & string, check: FieldCheck, optional: boolean]> = [
  ["id", isString, false],
  ["kind", isString, false],
  ["status", oneOf(TaskStatus.literals), false],
  ["reason", orNull(oneOf(FailureReason.literals)), false],
  ["priority", isFinite, false],
  ["key", orNull(isString), false],
  ["owner", orNull(isString), false],
  ["attempt", isFinite, false],
  ["progress", isFinite, false],
  ["message", orNull(isString), false],
  ["detail", isJson, false],
  ["payload", isJson, false],
  ["result", isJson, false],
  ["error", isJson, false],
  ["errorMessage", orNull(isString), false],
  ["checkpoint", isJson, false],
  ["createdAt", isFinite, false],
  ["startedAt", orNull(isFinite), false],
  ["finishedAt", orNull(isFinite), false],
  ["heartbeatAt", orNull(isFinite), false],
  ["expiresAt", orNull(isFinite), false],
  ["timeoutMillis", isFinite, true],
  ["heartbeatTimeoutMillis", isFinite, true],
  ["retries", isFinite, true],
  ["runner", isString, true]
]

/**
 * The JSON encoding of a record whose every field the encoding passes through unchanged, stringified: the same text
 * as the Schema's (its fields in order, nothing else), without its parser's cost (a third of it per record, measured
 * beside it); `undefined` for any other record, which the Schema then encodes (or refuses). Each field is read once,
 * into an object written out field by field in `plainFields`' order — one shape for every record, which
 * `JSON.stringify` walks on its fast path (the object filled key by key in a loop cost it twice as much) — and
 * checked there.
 */
const plainText = (info: TaskInfo): string | undefined => {
  const out: Record<string, unknown> = {
    id: info.id,
    kind: info.kind,
    status: info.status,
    reason: info.reason,
    priority: info.priority,
    key: info.key,
    owner: info.owner,
    attempt: info.attempt,
    progress: info.progress,
    message: info.message,
    detail: info.detail,
    payload: info.payload,
    result: info.result,
    error: info.error,
    errorMessage: info.errorMessage,
    checkpoint: info.checkpoint,
    createdAt: info.createdAt,
    startedAt: info.startedAt,
    finishedAt: info.finishedAt,
    heartbeatAt: info.heartbeatAt,
    expiresAt: info.expiresAt
  }
  if ("timeoutMillis" in info) out.timeoutMillis = info.timeoutMillis
  if ("heartbeatTimeoutMillis" in info) out.heartbeatTimeoutMillis = info.heartbeatTimeoutMillis
  if ("retries" in info) out.retries = info.retries
  if ("runner" in info) out.runner = info.runner
  for (const [key, check, optional] of plainFields) {
    if (optional && !(key in out)) continue
    if (!check(out[key])) return undefined
  }
  return JSON.stringify(out)
}

/**
 * A record's JSON text (its Schema's JSON encoding, stringified), made once
 * per record object and shared by every stream that writes it — the feed's
 * SSE frames and the RPC watchers — or `undefined` for a value that does not
 * encode (the caller's own encoding then reports why). The record reads as
 * before: the text is kept where no reader sees it (`HiddenField`). A record
 * the encoding would pass through unchanged (every one the supervisor makes)
 * is written without the Schema's parser (`plainText`).
 */
export const jsonText = (info: TaskInfo): string | undefined => {
  let text = jsonTexts.get(info)
  if (text !== undefined) return text
  text = plainText(info)
  if (text === undefined) {
    const encoded = encodeJson(info)
    if (encoded._tag === "Failure") return undefined
    text = JSON.stringify(encoded.value)
  }
  jsonTexts.set(info, text)
  return text
}

/** A new task id at `nowMillis`: a UUID v7, time-ordered like the ids the supervisor makes (see `SubmitOptions.id`). */
export const makeId = (nowMillis: number): string => uuidv7(nowMillis)
