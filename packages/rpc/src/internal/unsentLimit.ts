/**
 * A bound on what the server holds for a WebSocket client that does not
 * read. The socket's writes never wait (the platform's WebSocket `send`
 * queues whatever it is given), and a streaming call sends its next chunk
 * when the client acknowledges the last: a client that sends `Ack`s without
 * reading — it names the request id itself — had every change of
 * `WatchChanges` (and every record of `Watch`) queued in the service's memory
 * behind the kernel's buffers, without bound, and was never dropped, as the
 * feed saw it keep up.
 *
 * `bound` wraps the socket's writer: before each send it reads how many
 * bytes are waiting in the connection's Node socket, and once that passes
 * the limit it closes the WebSocket instead, with code 1013 (try again
 * later) and `SlowReader` as the reason, and drops every later write. The
 * answers written before go out first; the platform destroys the socket if
 * the client does not answer the close within its timeout.
 */
import { Effect } from "effect"
import { Socket } from "effect/socket"
import { SlowReader } from "../TaskRpcError.ts"

/** The close code of a socket closed for its unsent bytes: 1013, try again later. */
export const closeCode = 1013

/** The close frame's reason: the error's tag and message (under the protocol's 123 bytes). */
export const closeReason = (refusal: SlowReader): string => `${refusal._tag}: ${refusal.message}`

/** `writer`, closing its socket with `SlowReader` at the first send made while `unsent()` is over `limit` bytes. */
export const bound = (writer: Socket.Writer, unsent: () => number, limit: number): Socket.Writer => {
  let closed = false
  const checked = (send: Effect.Effect<void, Socket.SocketError>): Effect.Effect<void, Socket.SocketError> =>
    Effect.suspend(() => {
      if (closed) return Effect.void
      const unsentBytes = unsent()
      if (unsentBytes <= limit) return send
      closed = true
      return writer.write(new Socket.CloseEvent(closeCode, closeReason(new SlowReader({ unsentBytes, limit }))))
    })
  return {
    write: (chunk) => Socket.isCloseEvent(chunk) ? writer.write(chunk) : checked(writer.write(chunk)),
    writeAll: (chunks) => checked(writer.writeAll(chunks))
  }
}
