/**
 * The service's log (`JsonLog`): the lines logged in one callback reach
 * stdout in one write, in order, each a JSON line as `Logger.consoleJson`
 * writes it (an entry `plainLine` leaves too, through `Logger.formatJson`);
 * one write is scheduled per callback, not one per line; the
 * lines of a later callback go out in a write of their own; the module hooks
 * the process's `exit` once, and that hook writes what is still queued; and a
 * line logged right before `process.exit` is not lost (a real child process).
 * The tests that look at the module's state (its queue, its exit hook) load
 * a fresh copy of it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Logger } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { vi } from "vitest"
import * as JsonLog from "../src/JsonLog.ts"

/** A copy of the module of its own: no line queued, no flush scheduled, no exit hook yet. */
const freshJsonLog = async (): Promise<typeof JsonLog> => {
  vi.resetModules()
  return await import("../src/JsonLog.ts")
}

/** Logs `messages` with `logger`, in the current callback. */
const logWith = (logger: typeof JsonLog.logger, ...messages: Array<string>) =>
  Effect.runSync(Effect.forEach(messages, (message) => Effect.logInfo(message)).pipe(Effect.provide(Logger.layer([logger]))))

/** The messages of the JSON lines of one write. */
const messagesOf = (write: string) => write.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line).message)

/** The writes to stdout made while `body` runs and the microtasks after it, caught instead of written. */
const caughtWrites = async (body: () => void): Promise<Array<string>> => {
  const writes: Array<string> = []
  const write = process.stdout.write
  process.stdout.write = ((chunk: string | Uint8Array) => {
    writes.push(String(chunk))
    return true
  }) as typeof process.stdout.write
  try {
    body()
    await new Promise<void>((resolve) => setImmediate(resolve))
  } finally {
    process.stdout.write = write
  }
  return writes
}

describe("JsonLog", () => {
  it("writes the lines of one callback in one write, in order, each a JSON line", async () => {
    const writes = await caughtWrites(() =>
      Effect.runSync(
        Effect.all([Effect.logInfo("first"), Effect.logWarning("second"), Effect.logInfo("third")]).pipe(
          Effect.annotateLogs({ taskId: "t1" }),
          Effect.provide(Logger.layer([JsonLog.logger]))
        )
      )
    )
    assert.strictEqual(writes.length, 1, `writes: ${JSON.stringify(writes)}`)
    const lines = writes[0].split("\n")
    assert.strictEqual(lines.pop(), "")
    const entries = lines.map((line) => JSON.parse(line))
    assert.deepStrictEqual(entries.map((entry) => [entry.message, entry.level, entry.annotations.taskId]), [
      ["first", "INFO", "t1"],
      ["second", "WARN", "t1"],
      ["third", "INFO", "t1"]
    ])
  })

  it("writes an entry plainLine leaves (a cause, an object message) as Logger.formatJson does", async () => {
    const failure = Effect.logWarning("with a cause", Cause.fail("boom"))
    const structured = Effect.logInfo({ structured: true })
    const expected: Array<string> = []
    const formatJson = Logger.make((options) => void expected.push(Logger.formatJson.log(options)))
    const writes = await caughtWrites(() =>
      Effect.runSync(Effect.all([failure, structured]).pipe(Effect.provide(Logger.layer([JsonLog.logger, formatJson]))))
    )
    assert.strictEqual(writes.length, 1, `writes: ${JSON.stringify(writes)}`)
    assert.deepStrictEqual(writes[0].split("\n"), [...expected, ""])
  })

  it("schedules one write per callback, however many lines it logs", async () => {
    const { logger } = await freshJsonLog()
    const original = globalThis.queueMicrotask
    let scheduled = 0
    globalThis.queueMicrotask = (callback) => {
      scheduled++
      original(callback)
    }
    try {
      const writes = await caughtWrites(() => logWith(logger, "one", "two", "three"))
      assert.deepStrictEqual(writes.map(messagesOf), [["one", "two", "three"]])
    } finally {
      globalThis.queueMicrotask = original
    }
    assert.strictEqual(scheduled, 1)
  })

  it("writes a later callback's lines in a write of their own, and only them", async () => {
    const { logger } = await freshJsonLog()
    const first = await caughtWrites(() => logWith(logger, "first"))
    const second = await caughtWrites(() => logWith(logger, "second", "third"))
    assert.deepStrictEqual([first.map(messagesOf), second.map(messagesOf)], [[["first"]], [["second", "third"]]])
  })

  it("hooks the process's exit once, and the hook writes what is still queued, or nothing", async () => {
    const { logger } = await freshJsonLog()
    const before = process.listeners("exit")
    const added = () => process.listeners("exit").filter((listener) => !before.includes(listener))
    try {
      await caughtWrites(() => logWith(logger, "first"))
      await caughtWrites(() => logWith(logger, "second"))
      const hooks = added()
      assert.strictEqual(hooks.length, 1, "one exit hook for any number of callbacks")
      // An exit in the callback that logged: the hook writes the line its flush had not yet written.
      const atExit = await caughtWrites(() => {
        logWith(logger, "last words")
        ;(hooks[0] as () => void)()
      })
      assert.deepStrictEqual(atExit.map(messagesOf), [["last words"]])
      // An exit with nothing queued writes nothing.
      assert.deepStrictEqual(await caughtWrites(() => (hooks[0] as () => void)()), [])
    } finally {
      for (const hook of added()) process.off("exit", hook)
    }
  })

  // A Node process loading effect: seconds of CPU, 5 s and more at a load average of 20 (the whole server package ran so).
  it("a line logged right before process.exit is written", { timeout: 60_000 }, async () => {
    const module = fileURLToPath(new URL("../src/JsonLog.ts", import.meta.url))
    const script = [
      `import { Effect, Logger } from "effect"`,
      `import * as JsonLog from ${JSON.stringify(module)}`,
      `Effect.runSync(Effect.logInfo("last words").pipe(Effect.provide(Logger.layer([JsonLog.logger]))))`,
      `process.exit(0)`
    ].join("\n")
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ["--input-type=module", "-e", script], { cwd: fileURLToPath(new URL("..", import.meta.url)), timeout: 50_000 }, (error, out, err) =>
        error === null ? resolve(out) : reject(new Error(`${error.message}\nstdout: ${out}\nstderr: ${err}`)))
    )
    const lines = stdout.trim().split("\n").map((line) => JSON.parse(line))
    assert.deepStrictEqual(lines.map((line) => line.message), ["last words"])
  })
})
