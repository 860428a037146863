/**
 * One keep-alive HTTP connection to a JSON-RPC endpoint: an agent that holds
 * at most one socket, so a pool of these bounds the sockets to the endpoint.
 * A POST is interruptible: interruption aborts the request.
 */
import * as Http from "node:http"
import * as Https from "node:https"
import { Effect } from "effect"

/** One connection. */
export interface HttpConnection {
  readonly agent: Http.Agent
  readonly url: URL
  /** Headers sent with every request besides the content headers (e.g. an API key). */
  readonly headers: Readonly<Record<string, string>>
}

/** The raw answer to a POST. */
export interface HttpAnswer {
  readonly status: number
  /** The `Retry-After` header in milliseconds, if any. */
  readonly retryAfterMillis: number | undefined
  readonly body: string
}

/** Opens a connection; it is closed when the scope closes. */
export const open = (url: string, headers: Readonly<Record<string, string>> = {}) =>
  Effect.acquireRelease(
    Effect.sync((): HttpConnection => {
      const parsed = new URL(url)
      const options = { keepAlive: true, maxSockets: 1 }
      return {
        url: parsed,
        headers,
        agent: parsed.protocol === "https:" ? new Https.Agent(options) : new Http.Agent(options)
      }
    }),
    (connection) => Effect.sync(() => connection.agent.destroy())
  )

const retryAfter = (header: string | undefined): number | undefined => {
  if (header === undefined) return undefined
  const seconds = Number(header)
  if (Number.isFinite(seconds)) return seconds * 1000
  const date = Date.parse(header)
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now())
}

/** The most bytes of an error answer's body kept (`headOnly`): enough for any provider's message, never a whole page. */
export const maxErrorBodyBytes = 4096

/**
 * Whether the body of an answer with this status is only shown, never read as JSON-RPC (a 408, a 429, a 5xx): of
 * it, at most `maxErrorBodyBytes` are read, and the connection is dropped once they are in — a huge body is never
 * stored, a slow one never waited for past them (and never past the request's own timeout).
 */
export const headOnly = (status: number): boolean => status === 408 || status === 429 || status >= 500

/**
 * POSTs a JSON body; fails with the transport's error message. A request
 * written on a kept-alive socket that the endpoint closed at the same moment
 * (it closes sockets idle past its own keep-alive timeout, which we cannot
 * know) is reset before any answer: it is sent once more, on a new socket,
 * instead of being told as the endpoint's failure. Only then: a reset on a
 * new socket, or after an answer began, is the endpoint's.
 */
export const post = (connection: HttpConnection, body: string): Effect.Effect<HttpAnswer, string> =>
  postOnce(connection, body, true)

/**
 * Sockets that have carried a whole answer: a request written on one is on a kept-alive socket. (Node's
 * `request.reusedSocket` is not set for a request that waited for the agent's one socket to come free.)
 */
const answeredOn = new WeakSet<object>()

const postOnce = (connection: HttpConnection, body: string, mayResend: boolean): Effect.Effect<HttpAnswer, string> =>
  Effect.callback<HttpAnswer, string>((resume, signal) => {
    const module = connection.url.protocol === "https:" ? Https : Http
    let answered = false
    const request = module.request(connection.url, {
      method: "POST",
      agent: connection.agent,
      signal,
      headers: { ...connection.headers, "content-type": "application/json", "content-length": Buffer.byteLength(body) }
    }, (response) => {
      answered = true
      // kept now: by the answer's end the socket may be back in the agent, detached from the answer
      const socket = response.socket
      const status = response.statusCode ?? 0
      const limit = headOnly(status) ? maxErrorBodyBytes : Number.POSITIVE_INFINITY
      const chunks: Array<Buffer> = []
      let size = 0
      const answer = () =>
        resume(Effect.succeed({
          status,
          retryAfterMillis: retryAfter(response.headers["retry-after"]),
          body: Buffer.concat(chunks).subarray(0, limit).toString("utf8")
        }))
      response.on("data", (chunk: Buffer) => {
        if (size >= limit) return
        chunks.push(chunk)
        size += chunk.length
        if (size < limit) return
        answer()
        // the rest is not read: the connection goes, its socket with it
        response.destroy()
      })
      response.on("error", (error) => {
        if (size < limit) resume(Effect.fail(error.message))
      })
      response.on("end", () => {
        if (socket !== null) answeredOn.add(socket)
        answer()
      })
    })
    request.on("error", (error: NodeJS.ErrnoException) =>
      resume(
        mayResend && !answered && request.socket !== null && answeredOn.has(request.socket) && error.code === "ECONNRESET"
          ? postOnce(connection, body, false)
          : Effect.fail(error.message)
      ))
    request.end(body)
  })
