/**
 * WebSocket upgrades paced over turns of the event loop. The platform's
 * handler starts each upgrade's fiber synchronously inside Node's `upgrade`
 * event (the handshake, the RPC server's connection, the 101 answer): about
 * 2–5 ms of the loop each, outside the turn scheduler's budget. Clients that
 * connect together — a restart, or the 200 WebSocket watchers at the start
 * of the full load mix — then arrive in one read of the loop and make one turn
 * of hundreds of milliseconds, during which no connection is accepted and
 * no request read (a CPU profile of the load's first 10 s: 1,022 ms of
 * upgrades, none after).
 *
 * `pace` lets at most `perTurn` upgrades through between two check phases
 * of the loop; the others wait, in their order, for the next check phases
 * (`setImmediate`), `perTurn` at a time. Every upgrade is still made; a
 * waiting socket loses nothing, since Node leaves an upgraded socket
 * paused until its handler reads it.
 *
 * @since 0.1.0
 */
import type * as Http from "node:http"

/**
 * Upgrades let through per turn of the event loop: about the turn budget's (`TurnScheduler.defaultBudgetMillis`, 2
 * ms) worth of their work at 1–2 ms each. Against 8 a turn, in two pairs of 30-s runs of the full load mix on a
 * loaded machine, the first interval's (the clients' connection storm's) status p99 on new connections was 341 and
 * 448 ms against 374 and 572, and the WebSocket watchers' lag p50 68 and 63 ms against 231 and 220
 * (packages/server/README.md).
 */
export const defaultPerTurn = 2

/** What `pace` reports: upgrades waiting now. */
export interface Paced {
  readonly waiting: () => number
}

/** Paces `server`'s `upgrade` events: at most `perTurn` handled between two check phases of the event loop. */
export const pace = (server: Http.Server, perTurn: number = defaultPerTurn): Paced => {
  const emit = server.emit as (this: Http.Server, event: string | symbol, ...args: Array<any>) => boolean
  const waiting: Array<ReadonlyArray<any>> = []
  /** Upgrades handled since the last check phase. */
  let handled = 0
  let ticking = false
  const handle = (args: ReadonlyArray<any>) => {
    // A client that gave up while its upgrade waited: its socket is gone, nothing to upgrade (the handler would
    // wait for a close already past).
    const socket = args[1] as { destroyed?: boolean; destroy?: () => void } | undefined
    if (socket?.destroyed === true) return
    // Its listener gone while it waited (the server shutting down): closed, as Node closes an upgrade nobody hears.
    if (server.listenerCount("upgrade") === 0) return socket?.destroy?.()
    handled++
    emit.call(server, "upgrade", ...args)
  }
  /** A check phase: a new turn's share, the waiting upgrades first. */
  const tick = () => {
    ticking = false
    handled = 0
    while (waiting.length > 0 && handled < perTurn) handle(waiting.shift()!)
    if (waiting.length > 0 || handled > 0) schedule()
  }
  const schedule = () => {
    if (ticking) return
    ticking = true
    setImmediate(tick)
  }
  server.emit = function(this: Http.Server, event: string | symbol, ...args: Array<any>): boolean {
    if (event !== "upgrade") return emit.call(this, event, ...args)
    // Node destroys an upgrade's socket when nothing listens; a paced one is held only for a listener.
    if (this.listenerCount("upgrade") === 0) return emit.call(this, event, ...args)
    if (waiting.length === 0 && handled < perTurn) handle(args)
    else waiting.push(args)
    schedule()
    return true
  } as Http.Server["emit"]
  return { waiting: () => waiting.length }
}
