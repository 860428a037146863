/**
 * The load generator's event-stream client (`_load-clients.ts`): one
 * `GET` of a server-sent event stream over a bare `node:net` socket — the
 * request written as one string, the response's status line, headers and
 * chunked body decoded here, the events split from the body as it comes.
 *
 * Why not `node:http`: the single-task watchers open hundreds of streams a
 * second, a new connection each, and the generator shares the machine's two
 * cores with the service it measures. `http.get` makes a request, a parser,
 * an incoming message, a headers object and a decoder per stream, and its
 * processes stalled in nearly every interval of the full mix; this does only
 * what a stream needs (`npm run bench -- load --sse-client=http` runs the
 * watchers on `node:http` again, to compare the generator's CPU).
 *
 * It answers HTTP/1.1 as the service writes it: `Transfer-Encoding:
 * chunked` (any chunk boundary, down to a byte at a time), or a body
 * delimited by `Content-Length` or by the connection's close.
 */
import { connect, type Socket } from "node:net"
import { readHead } from "./_httpHead.ts"

/** One server-sent event: its `id` (if any), its `event` name (`message` by default) and its `data` lines joined. */
export interface SseEvent {
  readonly id: string | undefined
  readonly event: string
  readonly data: string
}

/** Splits a growing text into complete events, keeping the rest. */
export class SseParser {
  private buffer = ""
  /** The events `chunk` completes; a part-event waits for the rest. */
  push(chunk: string): Array<SseEvent> {
    this.buffer += chunk
    const end = this.buffer.lastIndexOf("\n\n")
    if (end < 0) return []
    const complete = this.buffer.slice(0, end)
    this.buffer = this.buffer.slice(end + 2)
    const events: Array<SseEvent> = []
    for (const block of complete.split("\n\n")) {
      let id: string | undefined
      let event = "message"
      let data = ""
      for (const line of block.split("\n")) {
        if (line.startsWith("data: ")) data += line.slice(6)
        else if (line.startsWith("id: ")) id = line.slice(4)
        else if (line.startsWith("event: ")) event = line.slice(7)
      }
      // A comment (`: keep-alive`) or an event without data is nothing to deliver.
      if (data !== "") events.push({ id, event, data })
    }
    return events
  }
}

/** How a stream ended: `ended` (the response's end, or the connection's close after a whole head), or why not. */
export type SseOutcome =
  | { readonly _tag: "ended" }
  | { readonly _tag: "status"; readonly status: number }
  | { readonly _tag: "error"; readonly code: string }

/** A stream being read: `done` settles with its outcome; `destroy` ends it early (its outcome is then `ended`). */
export interface SseStream {
  readonly done: Promise<SseOutcome>
  readonly destroy: () => void
}

const crlf = Buffer.from("\r\n")
/** A chunk's size line: its size in hex (at most 8 digits: no event is gigabytes), then any extensions. */
const chunkSize = /^([0-9A-Fa-f]{1,8})[ \t]*(?:;.*)?$/

/**
 * Opens `path` on `host`:`port` as an event stream (`Connection: close`,
 * the given extra headers) and calls `onEvent` for each event. A status
 * other than 200 ends it with that status (the body unread); a socket error
 * or a head not received within `timeoutMillis` with its code.
 */
export const open = (
  host: string,
  port: number,
  path: string,
  headers: Readonly<Record<string, string>>,
  onEvent: (event: SseEvent) => void,
  timeoutMillis: number
): SseStream => {
  let socket: Socket | undefined
  const done = new Promise<SseOutcome>((settle) => {
    let settled = false
    const finish = (outcome: SseOutcome) => {
      if (settled) return
      settled = true
      socket?.destroy()
      settle(outcome)
    }
    let extra = ""
    for (const name in headers) extra += `${name}: ${headers[name]}\r\n`
    const s = socket = connect({ host, port, noDelay: true })
    s.setTimeout(timeoutMillis, () => finish({ _tag: "error", code: "timeout" }))
    s.once("connect", () => s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nAccept: text/event-stream\r\nConnection: close\r\n${extra}\r\n`))
    s.on("error", (error: NodeJS.ErrnoException) => finish({ _tag: "error", code: error.code ?? error.message }))
    s.once("close", () => finish(head ? { _tag: "ended" } : { _tag: "error", code: "closed" }))

    const parser = new SseParser()
    const decoder = new TextDecoder()
    /** Bytes received and not yet taken: the head, then a chunk's size line or data. */
    let pending: Buffer = Buffer.alloc(0)
    let head = false
    let chunked = false
    /** Body bytes still to come: of the current chunk (chunked), of the whole body (`Content-Length`), or -1 (to the close). */
    let left = -1
    /** In a chunked body, the CRLF after a chunk's data is still to skip. */
    let trailing = false
    const deliver = (bytes: Buffer) => {
      for (const event of parser.push(decoder.decode(bytes, { stream: true }))) onEvent(event)
    }
    s.on("data", (data: Buffer) => {
      pending = pending.length === 0 ? data : Buffer.concat([pending, data])
      if (!head) {
        const read = readHead(pending)
        if (read === undefined) return
        if (read.status !== 200) return finish({ _tag: "status", status: read.status })
        chunked = read.chunked
        left = read.contentLength
        head = true
        s.setTimeout(0)
        pending = pending.subarray(read.bodyAt)
      }
      if (!chunked) {
        deliver(pending)
        if (left >= 0 && (left -= pending.length) <= 0) finish({ _tag: "ended" })
        pending = Buffer.alloc(0)
        return
      }
      for (;;) {
        if (trailing) {
          if (pending.length < 2) return
          // A chunk's data is followed by CRLF, nothing else.
          if (pending[0] !== crlf[0] || pending[1] !== crlf[1]) return finish({ _tag: "error", code: "malformed-chunk" })
          pending = pending.subarray(2)
          trailing = false
        }
        if (left <= 0) {
          const end = pending.indexOf(crlf)
          if (end < 0) return
          // A size line is hex digits, then optional extensions after `;`: anything else is a broken body, not its end.
          const size = chunkSize.exec(pending.toString("latin1", 0, end))
          if (size === null) return finish({ _tag: "error", code: "malformed-chunk" })
          left = Number.parseInt(size[1], 16)
          pending = pending.subarray(end + 2)
          // The last chunk: the body is whole.
          if (left === 0) return finish({ _tag: "ended" })
        }
        if (pending.length === 0) return
        const take = Math.min(left, pending.length)
        deliver(pending.subarray(0, take))
        pending = pending.subarray(take)
        left -= take
        if (left === 0) trailing = true
      }
    })
  })
  return { done, destroy: () => socket?.destroy() }
}
