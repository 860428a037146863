/**
 * Keep-alive comments for open event streams (server-sent events), written
 * by one timer for all of them: a stream that has written nothing between
 * two of its ticks (`keepAliveMillis` apart) gets `: keep-alive`, so that
 * proxies and clients keep an idle stream open — it is never silent for
 * much more than two intervals. A stream costs a map entry and a `close`
 * listener — not a timer, a fiber and a merge of its own, which at hundreds
 * of new streams a second was a fifth of each one's cost. The timer runs
 * only while a stream is open.
 *
 * Only a silent stream gets a comment: in the full load mix some 800 task
 * streams are open at any time, each for about a second and written to
 * several times in it; a comment to each of them at every tick was 800
 * socket writes in one turn of the event loop every 10 s (about a turn's
 * worth of a busy loop, which every read arriving meanwhile waited for), and
 * a write a stream that is being written to does not need.
 *
 * A comment is written between two of the stream's own writes (each a whole
 * event), never inside one; a response whose writes are already waiting for
 * the client (`writableNeedDrain`) gets none, as it is not idle.
 *
 * @since 0.1.0
 */
import type * as Http from "node:http"

/** How often the timer looks at the open event streams; one silent since its last look gets a comment. */
export const keepAliveMillis = 10_000

/** The comment: a line starting with `:`, which `EventSource` ignores. */
export const comment: Uint8Array = new TextEncoder().encode(": keep-alive\n\n")

/**
 * The responses being kept alive, each with its socket's bytes written as the last tick saw them (`unseen`: not
 * looked at yet since it was followed, or its head not sent, or its writes waiting for the client).
 */
const open = new Map<Http.ServerResponse, number>()
const unseen = -1
let timer: ReturnType<typeof setInterval> | undefined

const tick = () => {
  for (const [response, seen] of open) {
    if (!response.headersSent || response.writableEnded || response.writableNeedDrain) {
      open.set(response, unseen)
      continue
    }
    const written = response.socket?.bytesWritten ?? unseen
    // Silent since the last tick: nothing written in a whole interval.
    if (written === seen && written !== unseen) response.write(comment)
    open.set(response, response.socket?.bytesWritten ?? unseen)
  }
}

/** Keeps `response`, an event stream's, alive from now until it closes (comments start once its head is sent). */
export const follow = (response: Http.ServerResponse): void => {
  if (response.writableEnded || response.destroyed) return
  open.set(response, unseen)
  response.once("close", () => {
    open.delete(response)
    if (open.size === 0 && timer !== undefined) {
      clearInterval(timer)
      timer = undefined
    }
  })
  // Unref'd: an open stream alone does not keep the process alive (its socket does).
  timer ??= setInterval(tick, keepAliveMillis).unref()
}

/** The event streams kept alive now, and whether the timer runs. */
export const stats = (): { readonly streams: number; readonly ticking: boolean } => ({
  streams: open.size,
  ticking: timer !== undefined
})
