/**
 * A socket writer that sends the text frames written in one turn of the event
 * loop as one message. The RPC server writes each answer, and the client each
 * request, as an ndjson line of its own, and a WebSocket message costs a send
 * system call, a frame header and a read at the other end: with many tasks
 * finishing together, sending dominated the server's time. ndjson readers
 * split a message at its line ends, so lines joined into one message read as
 * the same answers.
 *
 * The lines queued are sent when the turn ends (`setImmediate`: after every
 * callback of the turn's check phase), in the order they were written — not
 * when the writing callback's microtasks run: each stream of a connection
 * (every `Watch` of a client watching many tasks) is a fiber resumed in a
 * callback of its own, so a burst of changes was written from as many
 * callbacks, and went out as a message per stream. One timer serves every
 * socket of the process. A `CloseEvent` sends what is queued first, then closes, at
 * once: the close never overtakes an answer written before it, and it is not
 * left queued when the socket's scope closes right after (the platform would
 * then close the socket itself, with a code of its own).
 */
import { NodeSocket } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { Socket } from "effect/socket"

/** The flushes of the sockets written to in this turn, in the order they were first written. */
let endOfTurn: Array<() => void> = []

/** Runs the turn's flushes (each socket's lines as one message), the turn over. */
const flushTurn = () => {
  const flushes = endOfTurn
  endOfTurn = []
  for (const flush of flushes) flush()
}

/** Calls `flush` when the turn ends, with every other socket's (one `setImmediate` for all). */
const atEndOfTurn = (flush: () => void) => {
  if (endOfTurn.push(flush) === 1) setImmediate(flushTurn)
}

/**
 * When a socket's queued lines are sent: at the end of the turn (what every
 * socket uses), or when the writing callback's microtasks run — the earlier
 * rule, a message per fiber that wrote, kept as `bench/fanout.ts`'s baseline.
 */
export type FlushAt = "turn" | "microtask"

/** Wraps the writer of one socket; every writer of that socket must be wrapped by the same function. */
export const make = (flushAt: FlushAt = "turn"): (writer: Socket.Writer) => Socket.Writer => {
  let queued: Array<string> = []
  let target: Socket.Writer | undefined
  let scheduled = false

  /** Takes the queued lines as one text, or undefined when none are queued. */
  const take = (): string | undefined => {
    if (queued.length === 0) return undefined
    const text = queued.length === 1 ? queued[0] : queued.join("")
    queued = []
    return text
  }

  const flush = () => {
    scheduled = false
    const text = take()
    // A failed send means the socket is gone: its reader fails and the connection ends there.
    if (text !== undefined && target !== undefined) Effect.runFork(Effect.ignore(target.write(text)))
  }

  return (writer) => {
    target = writer
    const sendQueued = Effect.suspend(() => {
      const text = take()
      return text === undefined ? Effect.void : writer.write(text)
    })
    return {
      write: (chunk) => {
        if (typeof chunk === "string") {
          return Effect.sync(() => {
            queued.push(chunk)
            if (!scheduled) {
              scheduled = true
              if (flushAt === "turn") atEndOfTurn(flush)
              else queueMicrotask(flush)
            }
          })
        }
        return Effect.andThen(sendQueued, writer.write(chunk))
      },
      writeAll: (chunks) => Effect.andThen(sendQueued, writer.writeAll(chunks))
    }
  }
}

/** The socket with its writer wrapped (see `make`). */
export const socket = (socket: Socket.Socket): Socket.Socket =>
  Socket.make({ reader: socket.reader, writer: Effect.map(socket.writer, make()) })

/** A WebSocket client to `url` whose text frames written in one turn go out as one message: what the RPC clients connect with. */
export const layerWebSocket = (url: string): Layer.Layer<Socket.Socket> =>
  Layer.effect(Socket.Socket, Effect.map(Socket.makeWebSocket(url), socket)).pipe(
    Layer.provide(NodeSocket.layerWebSocketConstructor)
  )
