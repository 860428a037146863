/**
 * The service's log (`JsonLog`): the lines logged in one callback reach
 * stdout in one write, in order, each a JSON line as `Logger.consoleJson`
 * writes it; and a line logged right before `process.exit` is not lost (a
 * real child process).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as JsonLog from "../src/JsonLog.ts"

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
