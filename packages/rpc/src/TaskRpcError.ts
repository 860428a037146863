/**
 * The errors the RPC layer adds to those of the task runtime. Each is a
 * `Schema.TaggedError`, so the server sends it and the client decodes it as a
 * typed failure. None of them changes anything on the server: a request that
 * fails with one of these errors was refused before it touched a task.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The request carried no bearer token, or one the server does not know. Do not retry with the same token. */
export class Unauthenticated extends Schema.TaggedError<Unauthenticated>()("Unauthenticated", {
  reason: Schema.Literals(["missing-token", "unknown-token"]),
  message: Schema.String
}, { httpApiStatus: 401 }) {}

/** The principal may not do this: the task belongs to another principal, or the operation is for admins. */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  principal: Schema.String,
  /** What was refused, e.g. `"task 0192…"` or `"purge"`. */
  target: Schema.String,
  message: Schema.String
}, { httpApiStatus: 403 }) {}

/** The principal submitted too many tasks in the current window; retry after `retryAfterMillis`. */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  principal: Schema.String,
  /** How long until a submission can succeed, in milliseconds. */
  retryAfterMillis: Schema.Number,
  /** Submissions allowed per window. */
  limit: Schema.Number,
  message: Schema.String
}, { httpApiStatus: 429 }) {}

/** The task payload is larger than the server accepts. Do not retry the same payload. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  /** The payload's size as JSON, in bytes. */
  size: Schema.Number,
  /** The largest accepted payload, in bytes. */
  limit: Schema.Number,
  message: Schema.String
}, { httpApiStatus: 413 }) {}

/** The request does not match its RPC's Schema; `message` names each bad field. Do not retry it unchanged. */
export class MalformedRequest extends Schema.TaggedError<MalformedRequest>()("MalformedRequest", {
  /** The RPC that was called. */
  rpc: Schema.String,
  message: Schema.String
}, { httpApiStatus: 400 }) {}
