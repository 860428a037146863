/**
 * The service's log: one JSON line per entry on stdout (as Effect's
 * `Logger.consoleJson` writes them), but the lines of one callback of the
 * event loop go out in one write. Writing to a pipe or a file is a system
 * call per write, made while the loop waits: with two lines per task
 * (`TaskLog`), the service's `console.log` calls were 3–4% of its CPU under
 * load (`npm run bench -- load --profile=…`), most of it those calls. Lines
 * are queued in order and written when the callback that logged them has
 * run (its microtasks), and at the latest when the process exits, so none
 * is lost to an exit; a line still reaches stdout before the loop goes on.
 *
 * @since 0.1.0
 */
import { Logger } from "effect"

/** Lines logged since the last write, each ending in a newline. */
let queued: Array<string> = []
let flushing = false
let exitHooked = false

/** Writes the queued lines, if any, in one write. */
const flush = (): void => {
  flushing = false
  if (queued.length === 0) return
  const text = queued.join("")
  queued = []
  process.stdout.write(text)
}

/** Queues `line` for the write after the current callback. */
const write = (line: string): void => {
  queued.push(`${line}\n`)
  if (flushing) return
  flushing = true
  queueMicrotask(flush)
  if (!exitHooked) {
    exitHooked = true
    // `process.exit` runs no more microtasks: what was logged just before still goes out.
    process.once("exit", flush)
  }
}

/** JSON lines on stdout, those of one callback in one write (see the module's note). */
export const logger: Logger.Logger<unknown, void> = Logger.make((options) => write(Logger.formatJson.log(options)))
