/**
 * The load generator's keep-alive HTTP/1.1 client for its submissions
 * (`_load-clients.ts`): a pool of bare `node:net` sockets, each request
 * written as one string and its answer's head and body decoded here, as
 * `_load-sse.ts` does for event streams.
 *
 * Why not `node:http`'s `Agent`: the submissions are 200 requests a second,
 * and a `ClientRequest`, its parser, an `IncomingMessage` and the agent's
 * bookkeeping per request cost the `submit` process about 1 ms of CPU each
 * in a profile of the full mix (`node:http` 3.9 s of its ~9 s busy): the
 * generator's clients model clients on other machines, and here they share
 * the service's two cores. The service reads the same requests.
 *
 * It keeps `node:http`'s behaviour where the load's figures depend on it: at
 * most `maxSockets` connections, later requests queued for one (and
 * abandonable: `abandonQueued`); a connection idle for longer than the
 * server's `Keep-Alive: timeout=` hint less a second is closed, not reused
 * (the agent's `agentKeepAliveTimeoutBuffer`: the service closes an idle
 * connection a second after the time it tells, so two seconds separate the
 * client's last reuse from the close); a request reset on a kept-alive socket the
 * server had just closed as idle (no byte of an answer) is sent once more, on
 * a new connection, and reported (`onStale`), not failed; a request not
 * answered within the timeout fails with `timeout`. Answers are read by
 * `Content-Length`, by chunks, or to the connection's close.
 *
 * Why the resend goes on a new connection: the service closes the idle
 * connections of one sweep together, and before its fix (session 22) the
 * resend took the next idle one, often closed by the same sweep but its
 * close not yet read: the resend failed too (`submit-EPIPE`, 2 in session
 * 21's second end run).
 */
import { connect, type Socket } from "node:net"
import { readHead } from "./_httpHead.ts"

/** An answer: its status and its body as text. */
export interface Answer {
  readonly status: number
  readonly body: string
}

const crlf = Buffer.from("\r\n")

interface Pending {
  readonly text: string
  readonly resolve: (answer: Answer) => void
  readonly reject: (kind: string) => void
  /** Sent once more already (after a stale socket): a second reset fails it. */
  readonly retried: boolean
}

/** What is taken off the server's keep-alive hint before a connection idle that long is no longer reused (ms). */
const hintMargin = 1000

/** One connection of the pool, reading one answer at a time. */
interface Connection {
  readonly socket: Socket
  /** Requests already answered on it: a reset of a reused connection may be the server's idle close. */
  used: number
  /** Until when (`performance.now`) it may be reused once idle: the server's keep-alive hint less `hintMargin`. */
  reusableUntil: number
  current: Pending | undefined
  timer: ReturnType<typeof setTimeout> | undefined
}

/** A keep-alive pool of at most `maxSockets` connections to `host`:`port`. */
export class Pool {
  private readonly idle: Array<Connection> = []
  private readonly queue: Array<Pending> = []
  private open = 0
  private destroyed = false

  private readonly host: string
  private readonly port: number
  private readonly maxSockets: number
  private readonly timeoutMillis: number
  /** Called for each request sent again because its kept-alive socket had been closed by the server. */
  private readonly onStale: () => void

  constructor(host: string, port: number, maxSockets: number, timeoutMillis: number, onStale: () => void) {
    this.host = host
    this.port = port
    this.maxSockets = maxSockets
    this.timeoutMillis = timeoutMillis
    this.onStale = onStale
  }

  /** Requests waiting for a connection: not sent yet. */
  get queued(): number {
    return this.queue.length
  }

  /** Sends `method path` with a JSON body (if any); resolves with the answer, or rejects with an error kind. */
  request(method: string, path: string, json?: string): Promise<Answer> {
    const text = `${method} ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\nConnection: keep-alive\r\n` +
      (json === undefined ? "\r\n" : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n\r\n${json}`)
    return new Promise((resolve, reject) => this.dispatch({ text, resolve, reject, retried: false }))
  }

  /** Fails every request still queued for a connection with `kind` (they were never sent). */
  abandonQueued(kind: string): void {
    for (const pending of this.queue.splice(0)) pending.reject(kind)
  }

  /** Closes every connection; requests under way fail with `destroyed`. */
  destroy(): void {
    this.destroyed = true
    this.abandonQueued("destroyed")
    for (const connection of this.idle.splice(0)) connection.socket.destroy()
  }

  private dispatch(pending: Pending): void {
    if (this.destroyed) return pending.reject("destroyed")
    // The most recently used idle connection first, as `node:http`'s agent schedules (`lifo`); one idle past the
    // server's hint is closed (its close frees its place once read).
    for (let connection = this.idle.pop(); connection !== undefined; connection = this.idle.pop()) {
      if (performance.now() < connection.reusableUntil) return this.send(connection, pending)
      connection.socket.destroy()
    }
    if (this.open < this.maxSockets) return this.send(this.connect(), pending)
    this.queue.push(pending)
  }

  private send(connection: Connection, pending: Pending): void {
    connection.current = pending
    connection.timer = setTimeout(() => {
      connection.current = undefined
      connection.socket.destroy()
      pending.reject("timeout")
    }, this.timeoutMillis)
    connection.socket.write(pending.text)
  }

  /** The connection is free again: the next queued request, or the idle list. */
  private release(connection: Connection): void {
    const next = this.queue.shift()
    if (next !== undefined) this.send(connection, next)
    else this.idle.push(connection)
  }

  private connect(): Connection {
    this.open++
    const socket = connect({ host: this.host, port: this.port, noDelay: true })
    const connection: Connection = { socket, used: 0, reusableUntil: Number.POSITIVE_INFINITY, current: undefined, timer: undefined }
    /** Bytes of the current answer not yet taken. */
    let pending: Buffer = Buffer.alloc(0)
    let status = 0
    let head = false
    let chunked = false
    let closes = false
    /** The server's keep-alive hint of the current answer (s), if it gave one. */
    let keepAliveSeconds: number | undefined
    /** Body bytes still to come: of the whole body (`Content-Length`), of the current chunk, or -1 (to the close). */
    let left = -1
    let trailing = false
    /** In a chunked body, the last chunk read: only the final CRLF is still to come. */
    let last = false
    let body: Array<Buffer> = []
    const reset = () => {
      pending = Buffer.alloc(0)
      status = 0
      head = chunked = closes = trailing = last = false
      keepAliveSeconds = undefined
      left = -1
      body = []
    }
    const answered = () => {
      const current = connection.current
      clearTimeout(connection.timer)
      connection.current = undefined
      connection.used++
      connection.reusableUntil = keepAliveSeconds === undefined
        ? Number.POSITIVE_INFINITY
        : performance.now() + keepAliveSeconds * 1000 - hintMargin
      const answer = { status, body: Buffer.concat(body).toString("utf8") }
      const rest = pending
      reset()
      if (closes || rest.length > 0) socket.destroy()
      else this.release(connection)
      current?.resolve(answer)
    }
    let closed = false
    /** The connection has ended (its error, or its close): once. */
    const gone = (code: string) => {
      if (closed) return
      closed = true
      const index = this.idle.indexOf(connection)
      if (index >= 0) this.idle.splice(index, 1)
      this.open--
      const current = connection.current
      connection.current = undefined
      clearTimeout(connection.timer)
      if (current !== undefined) {
        // An answer read to the close is whole now.
        if (head && !chunked && left < 0) current.resolve({ status, body: Buffer.concat(body).toString("utf8") })
        // A reused connection reset before any byte of its answer: the server closed it as idle. Sent once more, on a
        // new connection (in the place this one freed): the next idle one may have been closed with it.
        else if (connection.used > 0 && !head && pending.length === 0 && !current.retried && !this.destroyed) {
          this.onStale()
          this.send(this.connect(), { ...current, retried: true })
        } else current.reject(code)
      }
      // A connection fewer: a queued request may open one.
      if (this.open < this.maxSockets) {
        const next = this.queue.shift()
        if (next !== undefined) this.dispatch(next)
      }
    }
    socket.on("error", (error: NodeJS.ErrnoException) => gone(error.code ?? error.message))
    socket.once("close", () => gone("ECONNRESET"))
    socket.on("data", (data: Buffer) => {
      if (connection.current === undefined) return socket.destroy()
      pending = pending.length === 0 ? data : Buffer.concat([pending, data])
      if (!head) {
        const read = readHead(pending)
        if (read === undefined) return
        status = read.status
        chunked = read.chunked
        closes = read.closes
        keepAliveSeconds = read.keepAliveSeconds
        left = chunked ? 0 : read.contentLength
        head = true
        pending = pending.subarray(read.bodyAt)
      }
      if (!chunked) {
        if (left < 0) {
          body.push(pending)
          pending = Buffer.alloc(0)
          return
        }
        const take = Math.min(left, pending.length)
        body.push(pending.subarray(0, take))
        pending = pending.subarray(take)
        left -= take
        if (left === 0) answered()
        return
      }
      for (;;) {
        if (last) {
          if (pending.length < 2) return
          pending = pending.subarray(2)
          return answered()
        }
        if (trailing) {
          if (pending.length < 2) return
          pending = pending.subarray(2)
          trailing = false
        }
        if (left === 0) {
          const end = pending.indexOf(crlf)
          if (end < 0) return
          const size = Number.parseInt(pending.toString("latin1", 0, end), 16)
          if (!Number.isFinite(size)) {
            socket.destroy()
            return
          }
          pending = pending.subarray(end + 2)
          // The last chunk: then the (empty) trailer's CRLF.
          if (size === 0) {
            last = true
            continue
          }
          left = size
        }
        if (pending.length === 0) return
        const take = Math.min(left, pending.length)
        body.push(pending.subarray(0, take))
        pending = pending.subarray(take)
        left -= take
        if (left === 0) trailing = true
      }
    })
    return connection
  }
}
