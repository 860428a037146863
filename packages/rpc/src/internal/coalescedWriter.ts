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
 *
 * A pass of those flushes sends at most `passBudgetMillis` of sockets (about
 * the service's turn budget, `TurnScheduler`): the sockets left wait, in
 * their order, for the next check phase, after the loop has polled its
 * sockets. Under the load mix one pass sent to hundreds of sockets (a send
 * system call each; passes up to 45–103 ms), and no connection was accepted
 * nor request read meanwhile. A socket left for the next pass keeps its
 * lines queued, and the lines written to it meanwhile join them: every line
 * still goes out once, in the order written.
 */
import { NodeSocket } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { Socket } from "effect/socket"

/** How long one pass of end-of-turn flushes may send (ms): about the service's turn budget (`TurnScheduler`). */
export const passBudgetMillis = 8

/**
 * The end-of-turn flushes of a set of sockets (`shared`: every socket of the
 * process): a flush queued in a turn runs in a pass after the turn (one
 * `schedule`d callback for all), in the order queued, until a flush ends with
 * `budgetMillis` spent on `now`'s clock; the flushes left run first in the
 * next pass. A pass runs at least one flush, so every flush runs.
 */
export class EndOfTurn {
  private queue: Array<() => void> = []
  private scheduled = false
  private readonly budgetMillis: number
  private readonly now: () => number
  private readonly schedule: (pass: () => void) => void
  constructor(
    budgetMillis: number = passBudgetMillis,
    now: () => number = () => performance.now(),
    schedule: (pass: () => void) => void = (pass) => void setImmediate(pass)
  ) {
    this.budgetMillis = budgetMillis
    this.now = now
    this.schedule = schedule
  }

  /** Queues `flush` for a coming pass. */
  add(flush: () => void): void {
    this.queue.push(flush)
    this.next()
  }

  /** Schedules a pass, unless one is scheduled or nothing waits. */
  private next(): void {
    if (this.scheduled || this.queue.length === 0) return
    this.scheduled = true
    this.schedule(this.pass)
  }

  /** One pass: the flushes queued before it, until the budget is spent; the rest go first next pass. */
  private readonly pass = (): void => {
    this.scheduled = false
    const flushes = this.queue
    this.queue = []
    const deadline = this.now() + this.budgetMillis
    let ran = 0
    while (ran < flushes.length) {
      flushes[ran++]()
      if (this.now() >= deadline) break
    }
    if (ran < flushes.length) this.queue = flushes.slice(ran).concat(this.queue)
    this.next()
  }
}

/** The end-of-turn flushes of every socket of the process. */
const shared = new EndOfTurn()

/**
 * When a socket's queued lines are sent: at the end of the turn (what every
 * socket uses), or when the writing callback's microtasks run — the earlier
 * rule, a message per fiber that wrote, kept as `bench/fanout.ts`'s baseline.
 */
export type FlushAt = "turn" | "microtask"

/**
 * Wraps the writer of one socket; every writer of that socket must be wrapped by the same function. With the `"turn"`
 * rule its flushes run in `endOfTurn`'s passes (every socket of the process shares one, unless told otherwise).
 */
export const make = (flushAt: FlushAt = "turn", endOfTurn: EndOfTurn = shared): (writer: Socket.Writer) => Socket.Writer => {
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
              if (flushAt === "turn") endOfTurn.add(flush)
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

/** The socket with its writer wrapped (see `make`), its flushes in `endOfTurn`'s passes. */
export const socket = (socket: Socket.Socket, endOfTurn: EndOfTurn = shared): Socket.Socket =>
  Socket.make({ reader: socket.reader, writer: Effect.map(socket.writer, make("turn", endOfTurn)) })

/** A WebSocket client to `url` whose text frames written in one turn go out as one message: what the RPC clients connect with. */
export const layerWebSocket = (url: string): Layer.Layer<Socket.Socket> =>
  Layer.effect(Socket.Socket, Effect.map(Socket.makeWebSocket(url), socket)).pipe(
    Layer.provide(NodeSocket.layerWebSocketConstructor)
  )
