/**
 * Keep-alive comments for open event streams (server-sent events), written
 * by one timer for all of them: every `keepAliveMillis` each open stream's
 * Node response gets `: keep-alive`, so that proxies and clients keep an idle
 * stream open. A stream costs a set entry and a `close` listener — not a
 * timer, a fiber and a merge of its own, which at hundreds of new streams a
 * second was a fifth of each one's cost. The timer runs only while a stream
 * is open.
 *
 * A comment is written between two of the stream's own writes (each a whole
 * event), never inside one; a response whose writes are already waiting for
 * the client (`writableNeedDrain`) gets none, as it is not idle.
 *
 * @since 0.1.0
 */
import type * as Http from "node:http"

/** How often an open event stream gets a comment. */
export const keepAliveMillis = 10_000

/** The comment: a line starting with `:`, which `EventSource` ignores. */
export const comment: Uint8Array = new TextEncoder().encode(": keep-alive\n\n")

/** The responses being kept alive. */
const open = new Set<Http.ServerResponse>()
let timer: ReturnType<typeof setInterval> | undefined

const tick = () => {
  for (const response of open) {
    if (response.headersSent && !response.writableEnded && !response.writableNeedDrain) response.write(comment)
  }
}

/** Keeps `response`, an event stream's, alive from now until it closes (comments start once its head is sent). */
export const follow = (response: Http.ServerResponse): void => {
  if (response.writableEnded || response.destroyed) return
  open.add(response)
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
