/**
 * Schema glue of the supervisor: payload validation that names the bad field,
 * and the encoding of results and errors into (and out of) task records.
 * Everything is encoded through the JSON codec of the kind's Schemas
 * (`Schema.toCodecJson`), so a record is plain JSON whatever the store or the
 * transport: a `Date` is an ISO string, a `bigint` a decimal string, `void` null.
 * Parsers are built once per kind (`forKind`), never per task.
 */
import { Cause, Exit, Schema, SchemaIssue } from "effect"
import type { Any } from "../TaskKind.ts"
import { InvalidPayload, ResultDecodeError, TaskAborted } from "../TaskError.ts"
import type { TaskInfo } from "../TaskInfo.ts"
import { flatEncoder } from "./flatPayload.ts"
import type { Ending } from "./stop.ts"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Turns a Schema failure on a payload into `InvalidPayload`, naming each bad field. */
const invalidPayload = (kind: string, issue: SchemaIssue.Issue): InvalidPayload => {
  const issues = formatter(issue).issues.map((i) => ({
    path: (i.path ?? []).map((key) => String(typeof key === "object" && key !== null && "key" in key ? key.key : key)),
    message: i.message
  }))
  return new InvalidPayload({ kind, issues })
}

/** The outcome fields of a finished record (or of one stored back as `pending` for the next process). */
export type Outcome = Pick<TaskInfo, "status" | "reason" | "result" | "error" | "errorMessage">

/** What decoding a record's outcome reads of it. */
export type FinalFields = Outcome & Pick<TaskInfo, "id">

/** The Schema operations the supervisor needs for one kind. */
export interface KindCodec {
  /** Validates a typed payload and returns its encoded form. */
  encodePayload(payload: unknown): Exit.Exit<unknown, InvalidPayload>
  /** Decodes an encoded payload (a remote caller's, or a stored one). */
  decodePayload(encoded: unknown): Exit.Exit<unknown, InvalidPayload>
  /** The outcome fields of a record for how its run ended, the result and error encoded with the kind's Schemas. */
  outcome(ending: Ending): Outcome
  /** The typed outcome of a finished record. */
  exitFromInfo(info: FinalFields): Exit.Exit<Exit.Exit<unknown, unknown>, ResultDecodeError>
  /** Encodes a checkpoint with the kind's checkpoint Schema. */
  encodeCheckpoint(state: unknown): Exit.Exit<unknown, Schema.SchemaError>
  /** Decodes a stored checkpoint with the kind's checkpoint Schema. */
  decodeCheckpoint(stored: unknown): Exit.Exit<unknown, Schema.SchemaError>
  /** Encodes a progress detail with the kind's detail Schema. */
  encodeDetail(detail: unknown): Exit.Exit<unknown, Schema.SchemaError>
}

/**
 * A parser that runs `first` and, only where it fails, `all` (the same Schema
 * reporting every issue): a valid value costs the fast parse alone.
 */
const firstThenAll = <E>(
  first: (input: unknown) => Exit.Exit<unknown, E>,
  all: (input: unknown) => Exit.Exit<unknown, E>
) =>
(input: unknown): Exit.Exit<unknown, E> => {
  const exit = first(input)
  return Exit.isSuccess(exit) ? exit : all(input)
}

/**
 * `parse` with its answer for `undefined` and for `null` made once and kept,
 * when it holds no object (so tasks can share it): a kind whose result is
 * `void` encodes and decodes nothing per task. Other inputs are parsed each time.
 */
const nullishOnce = <E>(parse: (input: unknown) => Exit.Exit<unknown, E>) => {
  const kept = new Map<null | undefined, Exit.Exit<unknown, E>>()
  const keepable = (exit: Exit.Exit<unknown, E>) =>
    Exit.isSuccess(exit) && (exit.value === null || (typeof exit.value !== "object" && typeof exit.value !== "function"))
  return (input: unknown): Exit.Exit<unknown, E> => {
    if (input !== undefined && input !== null) return parse(input)
    const known = kept.get(input)
    if (known !== undefined) return known
    const exit = parse(input)
    if (keepable(exit)) kept.set(input, exit)
    return exit
  }
}

const codecs = new WeakMap<object, KindCodec>()

/** The codec of a kind, built on first use. */
export const forKind = (kind: Any): KindCodec => {
  let codec = codecs.get(kind)
  if (codec === undefined) {
    codec = make(kind)
    codecs.set(kind, codec)
  }
  return codec
}

const make = (kind: Any): KindCodec => {
  const payload = Schema.toCodecJson(kind.payload)
  const success = Schema.toCodecJson(kind.success)
  const error = Schema.toCodecJson(kind.error)
  // A payload is checked with the default options first: a struct's parser has a fast path for them, which
  // `errors: "all"` leaves for a generator per value. Only a payload that fails is parsed again with
  // `errors: "all"`, so that its refusal names every bad field, not only the first.
  const encodePayload = firstThenAll(Schema.encodeUnknownExit(payload), Schema.encodeUnknownExit(payload, { errors: "all" }))
  // A flat struct of primitives (most payloads) is encoded without Schema's parser when the value plainly fits it.
  const flat = flatEncoder(kind.payload)
  const decodePayload = firstThenAll(Schema.decodeUnknownExit(payload), Schema.decodeUnknownExit(payload, { errors: "all" }))
  const encodeSuccess = nullishOnce(Schema.encodeUnknownExit(success))
  const decodeSuccess = nullishOnce(Schema.decodeUnknownExit(success))
  const encodeError = Schema.encodeUnknownExit(error)
  const decodeError = Schema.decodeUnknownExit(error)
  const checkpoint = Schema.toCodecJson(kind.checkpoint)

  const failed = (error: unknown): Outcome => {
    const encoded = encodeError(error)
    if (Exit.isSuccess(encoded)) {
      return { status: "failed", reason: "error", result: null, error: encoded.value ?? null, errorMessage: messageOf(error) }
    }
    return {
      status: "failed",
      reason: "defect",
      result: null,
      error: null,
      errorMessage: `the handler failed with an error its kind's Schema does not describe: ${messageOf(error)}`
    }
  }

  /** The outcome of a nullish success, by its encoding: tasks whose results encode alike (a kept one) share it. */
  let lastCompleted: { readonly encoded: Exit.Exit<unknown, unknown>; readonly outcome: Outcome } | undefined

  const completed = (value: unknown): Outcome => {
    const encoded = encodeSuccess(value)
    if (lastCompleted !== undefined && lastCompleted.encoded === encoded) return lastCompleted.outcome
    if (Exit.isSuccess(encoded)) {
      const outcome: Outcome = { status: "completed", reason: null, result: encoded.value ?? null, error: null, errorMessage: null }
      if (value === undefined || value === null) lastCompleted = { encoded, outcome }
      return outcome
    }
    return {
      status: "failed",
      reason: "defect",
      result: null,
      error: null,
      errorMessage: `the handler's result does not match its kind's Schema: ${encoded.cause}`
    }
  }

  /** The typed outcome of a null result, by its decoding: records whose results decode alike (a kept one) share it. */
  let lastDecoded: {
    readonly result: Exit.Exit<unknown, unknown>
    readonly exit: Exit.Exit<Exit.Exit<unknown, unknown>, ResultDecodeError>
  } | undefined

  const decoded = (info: FinalFields, part: "result" | "error", exit: Exit.Exit<unknown, Schema.SchemaError>) =>
    Exit.mapError(exit, (e) => new ResultDecodeError({ id: info.id, part, issue: e.message }))

  return {
    encodeCheckpoint: Schema.encodeUnknownExit(checkpoint),
    decodeCheckpoint: Schema.decodeUnknownExit(checkpoint),
    encodeDetail: Schema.encodeUnknownExit(Schema.toCodecJson(kind.detail)),
    encodePayload: (payload) => {
      const encoded = flat === undefined ? undefined : flat(payload)
      return encoded !== undefined
        ? Exit.succeed(encoded)
        : Exit.mapError(encodePayload(payload), (e) => invalidPayload(kind.name, e.issue))
    },
    decodePayload: (encoded) => Exit.mapError(decodePayload(encoded), (e) => invalidPayload(kind.name, e.issue)),
    outcome: (ending) => {
      switch (ending._tag) {
        case "Completed":
          return completed(ending.value)
        case "Failed":
          return failed(ending.error)
        case "Aborted":
          return { status: "failed", reason: ending.reason, result: null, error: null, errorMessage: ending.message }
        case "Died":
          return { status: "failed", reason: "defect", result: null, error: null, errorMessage: Cause.pretty(ending.cause) }
        case "Interrupted":
          return interruptedOutcome
        case "Suspended":
          return suspendedOutcome
      }
    },
    exitFromInfo: (info) => {
      switch (info.status) {
        case "completed": {
          const result = decodeSuccess(info.result)
          if (lastDecoded !== undefined && lastDecoded.result === result) return lastDecoded.exit
          const exit = Exit.map(decoded(info, "result", result), Exit.succeed)
          if (info.result === null && Exit.isSuccess(result)) lastDecoded = { result, exit }
          return exit
        }
        case "failed":
          switch (info.reason) {
            case "error":
              return Exit.map(decoded(info, "error", decodeError(info.error)), Exit.fail)
            case "timeout":
            case "heartbeat":
            case "lost":
              return Exit.succeed(
                Exit.fail(new TaskAborted({ id: info.id, reason: info.reason, detail: info.errorMessage ?? info.reason }))
              )
            default:
              return Exit.succeed(Exit.die(new Error(info.errorMessage ?? "task died")))
          }
        default:
          // interrupted, or unfinished when its supervisor shut down
          return Exit.succeed(Exit.interrupt())
      }
    }
  }
}

/**
 * True when a decoded value and its encoded form are plain objects (or
 * arrays) holding the very same values under the same keys: the encoded one
 * can stand for both (a payload with no transformed field), so a task holds
 * one object instead of two.
 */
export const interchangeable = (decoded: unknown, encoded: unknown): boolean => {
  if (decoded === encoded) return true
  if (typeof decoded !== "object" || decoded === null || typeof encoded !== "object" || encoded === null) return false
  const proto = Object.getPrototypeOf(decoded)
  if ((proto !== Object.prototype && proto !== Array.prototype) || Object.getPrototypeOf(encoded) !== proto) return false
  // Keys walked with `for...in`, which makes no array of them (this runs for every submission); the prototypes
  // allowed above have no enumerable keys of their own, so it sees the keys `Object.keys` would.
  let size = 0
  for (const key in decoded) {
    if ((decoded as Record<string, unknown>)[key] !== (encoded as Record<string, unknown>)[key]) return false
    size++
  }
  for (const _ in encoded) size--
  return size === 0
}

const interruptedOutcome: Outcome = { status: "interrupted", reason: null, result: null, error: null, errorMessage: null }
const suspendedOutcome: Outcome = { status: "pending", reason: null, result: null, error: null, errorMessage: null }

const messageOf = (e: unknown): string =>
  e instanceof Error ? `${e.name}: ${e.message}` : typeof e === "object" && e !== null && "_tag" in e ? String(e._tag) : String(e)
