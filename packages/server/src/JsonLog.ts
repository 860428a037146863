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
import { Logger, References } from "effect"

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

/** A value `Logger.formatJson` writes as `JSON.stringify` does: a string, a finite number, a boolean. */
const isPlain = (value: unknown): boolean =>
  typeof value === "string" || typeof value === "boolean" || (typeof value === "number" && Number.isFinite(value))

/**
 * The line `Logger.formatJson` makes of an entry with one plain message, no cause, no log spans and plain
 * annotations (the task log's two lines per task are such entries), written with one `JSON.stringify` of an object
 * of `formatStructured`'s shape: the same text, without its copies of the annotations and its replacer called for
 * every value (1% of the service's CPU in a profile of the arenas bench). `undefined` for any other entry, which
 * `Logger.formatJson` writes.
 */
export const plainLine = (options: Logger.Options<unknown>): string | undefined => {
  const message = Array.isArray(options.message) && options.message.length === 1 ? options.message[0] : options.message
  if (typeof message !== "string" || options.cause.reasons.length > 0) return undefined
  if (options.fiber.getRef(References.CurrentLogSpans).length > 0) return undefined
  const annotations = options.fiber.getRef(References.CurrentLogAnnotations)
  for (const key in annotations) {
    if (!Object.hasOwn(annotations, key) || key === "__proto__" || !isPlain(annotations[key])) return undefined
  }
  return JSON.stringify({
    message,
    level: options.logLevel.toUpperCase(),
    timestamp: options.date.toISOString(),
    annotations,
    spans: {},
    fiberId: `#${options.fiber.id}`
  })
}

/** JSON lines on stdout, those of one callback in one write (see the module's note). */
export const logger: Logger.Logger<unknown, void> = Logger.make((options) =>
  write(plainLine(options) ?? Logger.formatJson.log(options))
)
