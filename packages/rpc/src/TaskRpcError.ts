/**
 * The error the RPC transport adds to those of the task runtime and its
 * access rules (`TaskAccessError`): a request the protocol cannot take. It is
 * a `Schema.TaggedError`, so the server sends it and the client decodes it as
 * a typed failure; over plain HTTP it is also the body of a 400 answer to a
 * batch the server refused whole. A request refused with it changed nothing.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** What was wrong with a request. */
export const Problem = Schema.Literals(["frame", "unknown-rpc", "duplicate-id", "payload"])
/** @see Problem */
export type Problem = typeof Problem.Type

/**
 * The request is not one the server can take: a `frame` that is not a message
 * of the protocol (not JSON, a bad envelope, a bad request id or headers), an
 * `unknown-rpc`, a request id used twice in one batch (`duplicate-id`), or a
 * `payload` that does not match its RPC's Schema (`detail` names each bad
 * field). Do not retry it unchanged.
 */
export class MalformedRequest extends Schema.TaggedError<MalformedRequest>("@chainjobs/rpc/TaskRpcError/MalformedRequest")(
  "MalformedRequest",
  {
    problem: Problem,
    /** The RPC called, when the frame named one. */
    rpc: Schema.optionalKey(Schema.String),
    /** What is wrong, e.g. the Schema issue of the payload. */
    detail: Schema.String
  },
  { httpApiStatus: 400 }
) {
  override get message(): string {
    return `${this.rpc === undefined ? "malformed request" : `invalid ${this.rpc} request`}: ${this.detail}`
  }
}

/**
 * The call would be more streaming calls (`Watch`, `WatchAll`, `WatchChanges`) than one connection may hold open
 * at once (`limit`; `open` when it was refused): refused alone, and the connection stays usable. Retry once one of
 * its streams has ended.
 */
export class TooManyStreams extends Schema.TaggedError<TooManyStreams>("@chainjobs/rpc/TaskRpcError/TooManyStreams")(
  "TooManyStreams",
  {
    /** The most streaming calls one connection may hold open at once. */
    limit: Schema.Number,
    /** The connection's streaming calls open when this one was refused. */
    open: Schema.Number
  },
  { httpApiStatus: 429 }
) {
  override get message(): string {
    return `this connection has ${this.open} streaming calls open and may hold at most ${this.limit}; end one before starting another`
  }
}

/**
 * The server closed a WebSocket whose client had stopped reading: more than
 * `limit` bytes of answers were waiting to be sent to it (`unsentBytes` when
 * it was closed). The close frame's reason (code 1013, try again later);
 * nothing the client acknowledged is lost: reconnect and resume (`WatchChanges`
 * after the last event id read).
 */
export class SlowReader extends Schema.TaggedError<SlowReader>("@chainjobs/rpc/TaskRpcError/SlowReader")(
  "SlowReader",
  {
    /** The bytes waiting to be sent when the socket was closed. */
    unsentBytes: Schema.Number,
    /** The most the server holds for one socket, in bytes. */
    limit: Schema.Number
  }
) {
  override get message(): string {
    return `${this.unsentBytes} bytes were waiting for this client (limit ${this.limit}); reconnect and resume`
  }
}
