/**
 * The load generator's WebSocket client (`_load-clients.ts`): one
 * connection over a bare `node:net` socket — the upgrade request written as
 * one string, the `101` answer checked (`Sec-WebSocket-Accept`), then the
 * frames read and written here (RFC 6455): text and binary messages, split
 * over continuation frames or not, delivered as text; a ping answered with
 * a pong; a close answered and the socket ended. Frames it sends are masked,
 * as a client's must be.
 *
 * Why not the global `WebSocket` (undici): the generator's clients model
 * clients on other machines, but here they share the service's two cores.
 * undici's socket made a `MessageEvent` per message, dispatched it through
 * an `EventTarget`, and decoded each text with a `TextDecoder`: in a
 * profile of the full mix that was 4.0–4.7 s of about 7 s busy in each of
 * the two WebSocket parts. The service sees the same handshake and frames
 * (no extension offered: the service's `ws` server negotiates none).
 */
import { createHash, randomBytes, randomFillSync } from "node:crypto"
import { connect, type Socket } from "node:net"
import { readHead } from "./_httpHead.ts"

/** An open connection: `send` writes one text message, `close` starts the closing handshake. */
export interface WsConnection {
  readonly send: (text: string) => void
  readonly close: () => void
  /** Whether messages can still be sent: the handshake done and no close sent or received. */
  readonly isOpen: () => boolean
}

/** What the connection tells its user: each message's text, and its end (once). */
export interface WsHandlers {
  readonly onText: (text: string) => void
  readonly onClose: () => void
}

/** The GUID RFC 6455 appends to the key to make the accept value. */
const guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/** Mask keys drawn from a pool of random bytes, refilled when used up (one fill per 1,024 frames). */
const maskPool = Buffer.alloc(4096)
let maskAt = maskPool.length
const maskKey = (): Buffer => {
  if (maskAt + 4 > maskPool.length) {
    randomFillSync(maskPool)
    maskAt = 0
  }
  maskAt += 4
  return maskPool.subarray(maskAt - 4, maskAt)
}

/** One masked frame of `opcode` (FIN set) carrying `payload`. */
const frame = (opcode: number, payload: Buffer): Buffer => {
  const length = payload.length
  const headerLength = length < 126 ? 2 : length < 65536 ? 4 : 10
  const out = Buffer.allocUnsafe(headerLength + 4 + length)
  out[0] = 0x80 | opcode
  if (length < 126) out[1] = 0x80 | length
  else if (length < 65536) {
    out[1] = 0x80 | 126
    out.writeUInt16BE(length, 2)
  } else {
    out[1] = 0x80 | 127
    out.writeUInt32BE(Math.floor(length / 2 ** 32), 2)
    out.writeUInt32BE(length >>> 0, 6)
  }
  const mask = maskKey()
  mask.copy(out, headerLength)
  const start = headerLength + 4
  for (let i = 0; i < length; i++) out[start + i] = payload[i] ^ mask[i & 3]
  return out
}

/**
 * Opens a WebSocket to `host`:`port` at `path`. Resolves once the server
 * has answered `101` with the right accept value; rejects with an error
 * kind (`ws-connect-error`, `ws-handshake-<status>`, `timeout`) otherwise.
 * After that, every message is handed to `onText` whole, in order, and
 * `onClose` is called once when the connection ends, whoever ended it.
 */
export const open = (host: string, port: number, path: string, handlers: WsHandlers, timeoutMillis: number): Promise<WsConnection> =>
  new Promise((resolve, reject) => {
    const key = randomBytes(16).toString("base64")
    const accept = createHash("sha1").update(key + guid).digest("base64")
    const socket: Socket = connect({ host, port, noDelay: true })
    let upgraded = false
    let closing = false
    let ended = false
    const end = () => {
      if (ended) return
      ended = true
      closing = true
      socket.destroy()
      if (upgraded) handlers.onClose()
      else reject("ws-connect-error")
    }
    socket.setTimeout(timeoutMillis, () => {
      if (upgraded) return
      ended = true
      socket.destroy()
      reject("timeout")
    })
    socket.once("connect", () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`
      ))
    socket.on("error", end)
    socket.once("close", end)

    const connection: WsConnection = {
      send: (text) => {
        if (!closing) socket.write(frame(0x1, Buffer.from(text, "utf8")))
      },
      close: () => {
        if (closing) return
        closing = true
        // Code 1000, a normal closure; the server's close frame (or the socket's end) finishes it.
        const code = Buffer.allocUnsafe(2)
        code.writeUInt16BE(1000, 0)
        socket.write(frame(0x8, code))
      },
      isOpen: () => upgraded && !closing
    }

    /** Bytes received and not yet taken: the answer's head, then frames. */
    let pending: Buffer = Buffer.alloc(0)
    /** A message split over frames: its parts so far (empty when none is under way). */
    let parts: Array<Buffer> = []
    socket.on("data", (data: Buffer) => {
      pending = pending.length === 0 ? data : Buffer.concat([pending, data])
      if (!upgraded) {
        const read = readHead(pending)
        if (read === undefined) return
        if (read.status !== 101 || read.webSocketAccept !== accept) {
          ended = true
          socket.destroy()
          return reject(read.status === 101 ? "ws-handshake-accept" : `ws-handshake-${read.status}`)
        }
        upgraded = true
        socket.setTimeout(0)
        pending = pending.subarray(read.bodyAt)
        resolve(connection)
      }
      while (pending.length >= 2) {
        const fin = (pending[0] & 0x80) !== 0
        const opcode = pending[0] & 0x0f
        const masked = (pending[1] & 0x80) !== 0
        let length = pending[1] & 0x7f
        let offset = 2
        if (length === 126) {
          if (pending.length < 4) return
          length = pending.readUInt16BE(2)
          offset = 4
        } else if (length === 127) {
          if (pending.length < 10) return
          length = pending.readUInt32BE(2) * 2 ** 32 + pending.readUInt32BE(6)
          offset = 10
        }
        const maskAt = offset
        if (masked) offset += 4
        if (pending.length < offset + length) return
        let payload = pending.subarray(offset, offset + length)
        if (masked) {
          // A server must not mask; unmasked here all the same rather than misread.
          payload = Buffer.from(payload)
          for (let i = 0; i < payload.length; i++) payload[i] ^= pending[maskAt + (i & 3)]
        }
        pending = pending.subarray(offset + length)
        if (opcode === 0x8) {
          // The server's close: answered with its code (if any), then the socket ends.
          if (!closing) {
            closing = true
            socket.write(frame(0x8, Buffer.from(payload.subarray(0, 2))))
          }
          socket.end()
          return
        }
        if (opcode === 0x9) {
          if (!closing) socket.write(frame(0xa, Buffer.from(payload)))
          continue
        }
        if (opcode === 0xa) continue
        // A text or binary frame starts a message, a continuation (0) adds to it; the last (FIN) delivers it.
        if (fin && parts.length === 0) handlers.onText(payload.toString("utf8"))
        else {
          parts.push(Buffer.from(payload))
          if (fin) {
            const whole = Buffer.concat(parts)
            parts = []
            handlers.onText(whole.toString("utf8"))
          }
        }
      }
    })
  })
