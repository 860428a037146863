/**
 * JSON-RPC 2.0 messages: one call is sent as an object, several as a batch
 * (an array); answers are matched to calls by id, whatever their order.
 */
import { Effect } from "effect"
import { ChainRequestError, InvalidResponse, JsonRpc, MissingBlock } from "../ChainRequestError.ts"
import * as ProviderErrors from "../ProviderErrors.ts"

/** One JSON-RPC call. */
export interface Call {
  readonly method: string
  readonly params: ReadonlyArray<unknown>
}

/** The request body for calls numbered from `firstId`. */
export const encode = (calls: ReadonlyArray<Call>, firstId: number): string => {
  const messages = calls.map((call, index) => ({ jsonrpc: "2.0", id: firstId + index, ...call }))
  return JSON.stringify(messages.length === 1 ? messages[0] : messages)
}

interface Answer {
  readonly id?: unknown
  readonly result?: unknown
  readonly error?: { readonly code?: unknown; readonly message?: unknown; readonly data?: unknown }
}

const isAnswer = (value: unknown): value is Answer => typeof value === "object" && value !== null

const invalid = (endpoint: string, detail: string) => new ChainRequestError({ reason: new InvalidResponse({ endpoint, detail }) })

/** The most characters of a node's error message kept in `detail` (its start: what `ProviderErrors` reads). */
export const maxDetailChars = 2048

/** The most characters of a node's error `data`, as JSON, kept as it is (revert data is far shorter). */
export const maxDataChars = 16384

/**
 * The first `max` characters of `text`, or one fewer where the `max`th is the first half of a character written as
 * two (an emoji): the half alone is no text, and would be stored as U+FFFD.
 */
export const head = (text: string, max: number): string => {
  const code = text.charCodeAt(max - 1)
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max)
}

/** `text` whole, or its start (`head`) and how many more characters there were. */
const bounded = (text: string, max: number): string => {
  if (text.length <= max) return text
  const kept = head(text, max)
  return `${kept}… (${text.length - kept.length} more characters)`
}

/** The most characters of what a provider said in an error answer (a 429, a 5xx) that its error keeps. */
export const maxSaidChars = 300

/**
 * `text` on one line (runs of white space, control characters and U+FFFD — which bytes that are no UTF-8 decode to,
 * and lone halves of a character written as two, escaped in JSON, become — as one space), at most `maxSaidChars` of it (`bounded`); undefined when nothing is left. `hide` runs on the whole
 * text first, so that what it hides is never cut in two by the bound.
 */
export const shown = (text: string, hide: (text: string) => string = (text) => text): string | undefined => {
  const line = hide(text).toWellFormed().replace(/[\s\u0000-\u001f\u007f-\u009f\ufffd]+/g, " ").trim()
  return line === "" ? undefined : bounded(line, maxSaidChars)
}

/**
 * What a provider said in the body of an error answer: its JSON-RPC error's message when the body is one, the text
 * of an HTML page without its tags, the body's text otherwise (plain text, binary) — as `shown`.
 */
export const said = (body: string, hide?: (text: string) => string): string | undefined => {
  let text = body
  try {
    const parsed: unknown = JSON.parse(body)
    const answer: unknown = Array.isArray(parsed) ? parsed[0] : parsed
    if (isAnswer(answer) && isAnswer(answer.error) && typeof answer.error.message === "string") text = answer.error.message
  } catch {
    if (/^\s*</.test(body)) text = body.replace(/<[^>]*>/g, " ")
  }
  return shown(text, hide)
}

/** `data` as it is (none included), or, past `maxDataChars` of JSON (a text's own length), the start of it and how much more there was. */
const boundedData = (data: unknown): unknown => {
  const json = typeof data === "string" ? data : JSON.stringify(data)
  return json === undefined || json.length <= maxDataChars ? data : bounded(json, maxDataChars)
}

/**
 * The error of a JSON-RPC error answer. The node's text is bounded: it ends up in the failed task's record (its error
 * and its `errorMessage`), read and streamed whole to every follower — a node answering megabytes of error text made
 * each read of that record as large (three times over).
 */
export const errorOf = (endpoint: string, error: NonNullable<Answer["error"]>) =>
  new ChainRequestError({
    reason: new JsonRpc({
      endpoint,
      code: typeof error.code === "number" ? error.code : 0,
      detail: bounded(typeof error.message === "string" ? error.message : JSON.stringify(error), maxDetailChars),
      data: boundedData(error.data)
    })
  })

/**
 * The results of the calls numbered from `firstId`, in call order. Fails with
 * the first JSON-RPC error among them, or `InvalidResponse` when the body is
 * not an answer to every call.
 */
export const decode = (endpoint: string, body: string, count: number, firstId: number) =>
  Effect.suspend(() => {
    let parsed: unknown
    try {
      parsed = JSON.parse(body)
    } catch {
      return Effect.fail(invalid(endpoint, `not JSON: ${head(body, 80)}`))
    }
    const answers = Array.isArray(parsed) ? parsed : [parsed]
    const byId = new Map<unknown, Answer>()
    for (const answer of answers) if (isAnswer(answer)) byId.set(answer.id, answer)
    const results: Array<unknown> = []
    for (let index = 0; index < count; index++) {
      const answer = byId.get(firstId + index)
      if (answer === undefined) {
        // a node that cannot parse a request answers with a null id
        const rejected = byId.get(null)
        return Effect.fail(
          rejected?.error ? errorOf(endpoint, rejected.error) : invalid(endpoint, `no answer to call ${firstId + index}`)
        )
      }
      if (answer.error) return Effect.fail(errorOf(endpoint, answer.error))
      if (!("result" in answer)) return Effect.fail(invalid(endpoint, `answer ${firstId + index} has no result`))
      results.push(answer.result)
    }
    return Effect.succeed(results as ReadonlyArray<unknown>)
  })

/**
 * Whether a JSON-RPC error is the provider refusing for its request budget
 * (some answer HTTP 200 or 4xx with such an error instead of a 429), by the
 * table of `ProviderErrors`.
 */
export const isRateLimitAnswer = (error: ChainRequestError): boolean =>
  error.reason._tag === "JsonRpc" && ProviderErrors.classify(error.reason.code, error.reason.detail) === "RateLimited"

/** A JSON-RPC error saying that the answering node does not have the block, as the transient `MissingBlock`; others as they are. */
export const missingBlock = (error: ChainRequestError): ChainRequestError =>
  error.reason._tag === "JsonRpc" && ProviderErrors.classify(error.reason.code, error.reason.detail) === "MissingBlock"
    ? new ChainRequestError({
      reason: new MissingBlock({ endpoint: error.reason.endpoint, code: error.reason.code, detail: error.reason.detail })
    })
    : error
