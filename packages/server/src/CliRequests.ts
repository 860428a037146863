/**
 * How long and how much the command line takes from a server: a request
 * answered whole (`status`, `list`, every REST command) gets `--timeout`
 * seconds (`CHAINJOBS_TIMEOUT`, default 30) from its sending to the end of
 * its answer, and a streamed one (`watch`, `submit --watch`) as long for its
 * first answer and for each next one, not for its total. An answer read
 * whole, or one line of a streamed answer, is at most `maxAnswerBytes`. A
 * server that never answers, trickles, or streams without end fails the
 * command with `NoAnswer` or `AnswerTooLarge`, naming the server and the
 * bound, instead of leaving it hanging or filling its memory.
 *
 * @since 0.1.0
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Clock, Duration, Effect, Layer, Schema, Stream } from "effect"
import { HttpClient, HttpClientError, HttpClientResponse } from "effect/http"

/** Seconds a command waits for an answer unless `--timeout` or `CHAINJOBS_TIMEOUT` says otherwise. */
export const defaultTimeoutSeconds = 30

/** The largest answer read whole, and the longest line of a streamed answer, in bytes: 16 MiB. */
export const maxAnswerBytes = 16 * 1024 * 1024

/** The server at `url` sent no `awaited` within `seconds`. */
export class NoAnswer extends Schema.TaggedError<NoAnswer>("@chainjobs/server/CliRequests/NoAnswer")("NoAnswer", {
  /** The server. */
  url: Schema.String,
  /** The time limit, in seconds. */
  seconds: Schema.Number,
  /** What did not come: `answer`, `next answer`. */
  awaited: Schema.String
}) {
  override get message(): string {
    return `the server at ${this.url} sent no ${this.awaited} within ${this.seconds} s (--timeout, CHAINJOBS_TIMEOUT)`
  }
}

/** The server at `url` sent an answer, or a line of a streamed one, of more than `limit` bytes. */
export class AnswerTooLarge extends Schema.TaggedError<AnswerTooLarge>("@chainjobs/server/CliRequests/AnswerTooLarge")(
  "AnswerTooLarge",
  {
    /** The server. */
    url: Schema.String,
    /** The most bytes read, `maxAnswerBytes`. */
    limit: Schema.Number
  }
) {
  override get message(): string {
    return `the server at ${this.url} sent an answer of more than ${this.limit} bytes, more than the command line reads`
  }
}

/** The bounds of one command's requests: the server and its time limit. */
export interface Bounds {
  /** The server, as `--url` names it. */
  readonly url: string
  /** The time limit, in seconds (`--timeout`). */
  readonly seconds: number
}

/** `request` (sent and its answer read whole), failing with `NoAnswer` once it has taken longer than the time limit. */
export const limitCall = (bounds: Bounds) => <A, E, R>(request: Effect.Effect<A, E, R>): Effect.Effect<A, E | NoAnswer, R> =>
  Effect.timeoutOrElse(request, {
    duration: Duration.seconds(bounds.seconds),
    orElse: () => Effect.fail(new NoAnswer({ url: bounds.url, seconds: bounds.seconds, awaited: "answer" }))
  })

/** `stream`, failing with `NoAnswer` once its first item, or any next one, has taken longer than the time limit. */
export const limitStream = (bounds: Bounds) => <A, E, R>(stream: Stream.Stream<A, E, R>): Stream.Stream<A, E | NoAnswer, R> =>
  Stream.timeoutOrElse(stream, {
    duration: Duration.seconds(bounds.seconds),
    orElse: () => Stream.fail(new NoAnswer({ url: bounds.url, seconds: bounds.seconds, awaited: "next answer" }))
  })

/**
 * Every call of an RPC client bounded: one answered whole by `limitCall`, a streamed one by `limitStream`. The
 * client's methods are its RPCs; any other field is kept as it is.
 */
export const limitClient = <C extends object>(bounds: Bounds, client: C): C => {
  const call = limitCall(bounds)
  const stream = limitStream(bounds)
  const limited: Record<string, unknown> = {}
  for (const [name, method] of Object.entries(client)) {
    limited[name] = typeof method !== "function" ? method : (...args: Array<unknown>) => {
      const made: unknown = method(...args)
      return Effect.isEffect(made) ? call(made) : Stream.isStream(made) ? stream(made) : made
    }
  }
  return limited as C
}

/** The statuses whose answer has no body (a web `Response` refuses one). */
const bodiless = new Set([101, 204, 205, 304])

/**
 * `response` with its body bounded: a line (bytes up to a newline) of more than `maxAnswerBytes` fails with
 * `AnswerTooLarge`; with a `deadline` (an answer read whole), the body in all is at most `maxAnswerBytes`, and read
 * to its end by the deadline, no chunk waited for longer than the time limit (`NoAnswer`).
 */
const bodyBounded = (bounds: Bounds, response: HttpClientResponse.HttpClientResponse, deadline?: number) => {
  if (bodiless.has(response.status)) return response
  let line = 0
  let total = 0
  const counted = Stream.mapEffect(response.stream, (bytes) =>
    Effect.gen(function*() {
      if (deadline !== undefined && (yield* Clock.currentTimeMillis) > deadline) {
        return yield* new NoAnswer({ url: bounds.url, seconds: bounds.seconds, awaited: "answer" })
      }
      total += bytes.length
      const newline = bytes.lastIndexOf(10)
      line = newline < 0 ? line + bytes.length : bytes.length - newline - 1
      if ((deadline === undefined ? line : total) > maxAnswerBytes) {
        return yield* new AnswerTooLarge({ url: bounds.url, limit: maxAnswerBytes })
      }
      return bytes
    }))
  const body = Stream.toReadableStream(deadline === undefined ? counted : limitStream(bounds)(counted))
  return HttpClientResponse.fromWeb(
    response.request,
    new Response(body, { status: response.status, headers: response.headers as Record<string, string> })
  )
}

/** `client` with every line of its answers bounded (`bodyBounded`): the transport of streamed answers (RPC). */
export const limitLines = (bounds: Bounds) => <E, R>(client: HttpClient.HttpClient.With<E, R>): HttpClient.HttpClient.With<E, R> =>
  HttpClient.transformResponse(client, Effect.map((response) => bodyBounded(bounds, response)))

/**
 * `client` with every answer read whole within the time limit from its sending, headers and body, and its body at
 * most `maxAnswerBytes` (`bodyBounded`); headers not come in time fail as the transport's error, the bound's its cause.
 */
export const limitWhole = (bounds: Bounds) => <E, R>(client: HttpClient.HttpClient.With<E, R>) =>
  HttpClient.transform(client, (respond, request) =>
    Effect.gen(function*() {
      const deadline = (yield* Clock.currentTimeMillis) + bounds.seconds * 1000
      const response = yield* Effect.timeoutOrElse(respond, {
        duration: Duration.seconds(bounds.seconds),
        orElse: () => {
          const cause = new NoAnswer({ url: bounds.url, seconds: bounds.seconds, awaited: "answer" })
          return Effect.fail(new HttpClientError.HttpClientError({
            reason: new HttpClientError.TransportError({ request, cause, description: cause.message })
          }))
        }
      })
      return bodyBounded(bounds, response, deadline)
    }))

/** The HTTP client of a command's REST requests (answers read whole), bounded by `limitWhole`. */
export const layerHttp = (bounds: Bounds): Layer.Layer<HttpClient.HttpClient> =>
  Layer.effect(HttpClient.HttpClient, Effect.map(HttpClient.HttpClient, limitWhole(bounds))).pipe(
    Layer.provide(NodeHttpClient.layerUndici)
  )

/**
 * The innermost failure `error` stands for, if it is one of these bounds': a transport's error wraps the body's
 * failure in its `cause` (or an RPC client error's `reason`).
 */
export const boundOf = (error: unknown): NoAnswer | AnswerTooLarge | undefined => {
  let current: any = error
  for (let depth = 0; depth < 16 && typeof current === "object" && current !== null; depth++) {
    if (current instanceof NoAnswer || current instanceof AnswerTooLarge) return current
    current = current.cause ?? current.reason
  }
  return undefined
}

/**
 * The text of an answer `fetch` got from the server at `url`, read whole: at most `maxAnswerBytes`, else it stops
 * reading and fails with `AnswerTooLarge`. (The time limit is the fetch's signal's: `AbortSignal.timeout`.)
 */
export const readText = async (response: Response, url: string): Promise<string> => {
  const reader = response.body?.getReader()
  if (reader === undefined) return ""
  const parts: Array<Uint8Array> = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.length
    if (size > maxAnswerBytes) {
      await reader.cancel()
      throw new AnswerTooLarge({ url, limit: maxAnswerBytes })
    }
    parts.push(value)
  }
  return new TextDecoder().decode(Buffer.concat(parts))
}
