/**
 * The one error of talking to a chain: `ChainRequestError`, whose `reason` says what
 * went wrong. Transient reasons (a timeout, a 429, a 5xx, a dropped
 * connection, a garbled answer, a block the answering node does not have
 * yet, an open circuit) are retried with backoff and
 * fail over to another endpoint; the others are final — `JsonRpc` (the node
 * answered with an error), `PoolExhausted` (no connection within the acquire
 * timeout), `WrongChain` (the endpoint serves another chain: the next endpoint
 * is tried, the request is not retried) and `UnknownChain` are never retried.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The request took longer than the per-request timeout. Transient. */
export class Timeout extends Schema.TaggedClass<Timeout>("@chainjobs/chain/ChainRequestError/Timeout")("Timeout", {
  endpoint: Schema.String,
  millis: Schema.Number
}) {}

/**
 * The endpoint answered 429 Too Many Requests, or a JSON-RPC error saying its request budget is spent. Transient; the
 * endpoint pauses for `retryAfterMillis`. `detail` is what the provider said (its JSON-RPC error's message or the
 * answer's text, on one line, bounded, without the endpoint's key), when it said anything.
 */
export class RateLimited extends Schema.TaggedClass<RateLimited>("@chainjobs/chain/ChainRequestError/RateLimited")("RateLimited", {
  endpoint: Schema.String,
  retryAfterMillis: Schema.Number,
  detail: Schema.optional(Schema.String)
}) {}

/**
 * The endpoint answered with an HTTP error status. Transient when 408 or 5xx. `detail` is what the answer's body
 * said (its start, on one line, without the endpoint's key), when it said anything.
 */
export class HttpStatus extends Schema.TaggedClass<HttpStatus>("@chainjobs/chain/ChainRequestError/HttpStatus")("HttpStatus", {
  endpoint: Schema.String,
  status: Schema.Number,
  detail: Schema.optional(Schema.String)
}) {}

/** The connection failed or was dropped. Transient. */
export class Network extends Schema.TaggedClass<Network>("@chainjobs/chain/ChainRequestError/Network")("Network", {
  endpoint: Schema.String,
  detail: Schema.String
}) {}

/** The node answered that it does not have the block asked about (it lags behind others of the provider). Transient. */
export class MissingBlock extends Schema.TaggedClass<MissingBlock>("@chainjobs/chain/ChainRequestError/MissingBlock")("MissingBlock", {
  endpoint: Schema.String,
  code: Schema.Number,
  detail: Schema.String
}) {}

/** The answer was not a JSON-RPC response to the request. Transient. */
export class InvalidResponse extends Schema.TaggedClass<InvalidResponse>("@chainjobs/chain/ChainRequestError/InvalidResponse")("InvalidResponse", {
  endpoint: Schema.String,
  detail: Schema.String
}) {}

/** The node answered with a JSON-RPC error. Not retried: the request itself is at fault. */
export class JsonRpc extends Schema.TaggedClass<JsonRpc>("@chainjobs/chain/ChainRequestError/JsonRpc")("JsonRpc", {
  endpoint: Schema.String,
  code: Schema.Number,
  detail: Schema.String,
  data: Schema.optional(Schema.Unknown)
}) {}

/** No pooled connection was free within the acquire timeout (on every endpoint tried: the next is tried). Not retried. */
export class PoolExhausted extends Schema.TaggedClass<PoolExhausted>("@chainjobs/chain/ChainRequestError/PoolExhausted")("PoolExhausted", {
  endpoint: Schema.String,
  waitedMillis: Schema.Number
}) {}

/**
 * Every endpoint's circuit is open. Transient. `lastFailure` is the message of the last failure that opened one of
 * them (what the provider said), when this client saw it.
 */
export class Unavailable extends Schema.TaggedClass<Unavailable>("@chainjobs/chain/ChainRequestError/Unavailable")("Unavailable", {
  chain: Schema.String,
  retryAfterMillis: Schema.Number,
  lastFailure: Schema.optional(Schema.String)
}) {}

/**
 * The endpoint answers `eth_chainId` with another chain's id than the one configured: its answers would be another
 * chain's blocks and balances, so it is kept out of use (the next endpoint is tried). `reported` is the id it
 * answered, in decimal. Not retried.
 */
export class WrongChain extends Schema.TaggedClass<WrongChain>("@chainjobs/chain/ChainRequestError/WrongChain")("WrongChain", {
  chain: Schema.String,
  endpoint: Schema.String,
  expected: Schema.Number,
  reported: Schema.String
}) {}

/** No chain of that name is configured. Not retried. */
export class UnknownChain extends Schema.TaggedClass<UnknownChain>("@chainjobs/chain/ChainRequestError/UnknownChain")("UnknownChain", {
  chain: Schema.String
}) {}

/** Why a request failed. */
export const ChainRequestErrorReason = Schema.Union([
  Timeout,
  RateLimited,
  HttpStatus,
  Network,
  InvalidResponse,
  MissingBlock,
  JsonRpc,
  PoolExhausted,
  Unavailable,
  WrongChain,
  UnknownChain
])

/** Why a request failed. */
export type ChainRequestErrorReason = typeof ChainRequestErrorReason.Type

/** `: detail`, or nothing when there is none. */
const saying = (detail: string | undefined) => detail === undefined ? "" : `: ${detail}`

const describe = (reason: ChainRequestErrorReason): string => {
  switch (reason._tag) {
    case "Timeout":
      return `${reason.endpoint}: no answer within ${reason.millis} ms`
    case "RateLimited":
      return `${reason.endpoint}: rate limited, retry after ${reason.retryAfterMillis} ms${saying(reason.detail)}`
    case "HttpStatus":
      return `${reason.endpoint}: HTTP ${reason.status}${saying(reason.detail)}`
    case "Network":
    case "InvalidResponse":
      return `${reason.endpoint}: ${reason.detail}`
    case "MissingBlock":
      return `${reason.endpoint}: block not there yet (JSON-RPC error ${reason.code}: ${reason.detail})`
    case "JsonRpc":
      return `${reason.endpoint}: JSON-RPC error ${reason.code}: ${reason.detail}`
    case "PoolExhausted":
      return `${reason.endpoint}: no free connection after ${reason.waitedMillis} ms`
    case "Unavailable":
      return `${reason.chain}: every endpoint's circuit is open, retry after ${reason.retryAfterMillis} ms` +
        (reason.lastFailure === undefined ? "" : `; the last failure: ${reason.lastFailure}`)
    case "WrongChain":
      return `${reason.endpoint}: answers for chain id ${reason.reported}, not ${reason.chain}'s ${reason.expected}; kept out of use`
    case "UnknownChain":
      return `unknown chain ${reason.chain}`
  }
}

/** A request to a chain failed. */
export class ChainRequestError extends Schema.TaggedError<ChainRequestError>("@chainjobs/chain/ChainRequestError")("ChainRequestError", {
  reason: ChainRequestErrorReason
}) {
  override get message(): string {
    return describe(this.reason)
  }
}

/** Whether a retry (after a backoff, possibly on another endpoint) may succeed. */
export const isTransient = (error: ChainRequestError): boolean => {
  switch (error.reason._tag) {
    case "Timeout":
    case "RateLimited":
    case "Network":
    case "InvalidResponse":
    case "MissingBlock":
    case "Unavailable":
      return true
    case "HttpStatus":
      return error.reason.status === 408 || error.reason.status >= 500
    case "JsonRpc":
    case "PoolExhausted":
    case "WrongChain":
    case "UnknownChain":
      return false
  }
}
