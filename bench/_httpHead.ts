/**
 * An HTTP/1.1 response's head as the load generator's bare-socket clients
 * read it (`_load-http.ts`, `_load-sse.ts`, `_load-ws.ts`): found in the
 * bytes received so far (up to the blank line), its status and the headers
 * they act on — the body's framing (`Transfer-Encoding: chunked`,
 * `Content-Length`), whether the server closes the connection after it, how
 * long it keeps the connection open for another request (`Keep-Alive:
 * timeout=`), and a WebSocket upgrade's `Sec-WebSocket-Accept` value as sent (its case
 * kept: base64 is case-sensitive). Header names are matched in any case.
 */

/** What a response's head says, and where its body begins. */
export interface ResponseHead {
  /** The status line's code (`NaN` if it has none). */
  readonly status: number
  /** The body is chunked (`Transfer-Encoding` names `chunked`). */
  readonly chunked: boolean
  /** `Content-Length`, or -1 when not given (a body read to the close, or chunked). */
  readonly contentLength: number
  /** `Connection` names `close`: the server ends the connection after this response. */
  readonly closes: boolean
  /** `Keep-Alive`'s `timeout=`: the seconds the server keeps the connection idle for another request; undefined when not said. */
  readonly keepAliveSeconds: number | undefined
  /** `Sec-WebSocket-Accept`'s value, trimmed, its case kept; undefined when absent. */
  readonly webSocketAccept: string | undefined
  /** The offset in the bytes read of the body's first byte (just past the blank line). */
  readonly bodyAt: number
}

const headEnd = Buffer.from("\r\n\r\n")

/** The head at the start of `bytes`, or undefined while its blank line has not come yet. */
export const readHead = (bytes: Buffer): ResponseHead | undefined => {
  const end = bytes.indexOf(headEnd)
  if (end < 0) return undefined
  const lines = bytes.toString("latin1", 0, end).split("\r\n")
  let chunked = false
  let contentLength = -1
  let closes = false
  let webSocketAccept: string | undefined
  let keepAliveSeconds: number | undefined
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]
    const colon = line.indexOf(":")
    if (colon < 0) continue
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (name === "transfer-encoding") chunked ||= value.toLowerCase().includes("chunked")
    else if (name === "content-length") contentLength = Number(value)
    else if (name === "connection") closes ||= value.toLowerCase().includes("close")
    else if (name === "sec-websocket-accept") webSocketAccept ??= value
    else if (name === "keep-alive") {
      const timeout = /(?:^|[,\s])timeout=(\d+)/i.exec(value)
      if (timeout !== null) keepAliveSeconds = Number(timeout[1])
    }
  }
  return { status: Number(lines[0].split(" ")[1]), chunked, contentLength, closes, keepAliveSeconds, webSocketAccept, bodyAt: end + 4 }
}
