/**
 * `chainjobs submit --watch` / `chainjobs watch` in process, on the paths
 * the other CLI tests do not take: a terminal gets one bar redrawn in place
 * (`\r…\x1b[K`) and a new line at the end; a follow interrupted (Ctrl-C, as
 * `CliSignal.test`'s child process sees it) says the task keeps running and
 * makes the exit code 130; a followed task that is interrupted on the server
 * fails the command with how it ended; `retry --watch` follows the new task;
 * `--webhook` reaches the server (which, without a webhook secret, refuses
 * it).
 */
import { assert, layer } from "@effect/vitest"
import { NodeServices } from "@effect/platform-node"
import { Console, Deferred, Effect, Exit, Fiber } from "effect"
import * as Cli from "../src/Cli.ts"
import { chainjobs } from "./cli.ts"
import { baseUrl, request, testServer } from "./http.ts"

/** The message of a command's typed failure, or "" when it did not fail so. */
const failure = (exit: Exit.Exit<unknown, unknown>): string => {
  if (!Exit.isFailure(exit)) return ""
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  return reason?._tag === "Fail" ? String((reason.error as any).message) : ""
}

/** A task that runs until it is stopped (one block a second, a million blocks). */
const endless = '{"fromBlock":0,"toBlock":1000000,"delayMillis":1000}'

/**
 * Runs `effect` with `process.stdout` as a terminal (`isTTY`) or a pipe,
 * keeping what is written to it in `written` instead of printing it;
 * `drawn`, when given, is completed by the first bar drawn in place.
 */
const onStdout = <A, E, R>(
  isTTY: boolean,
  written: Array<string>,
  effect: Effect.Effect<A, E, R>,
  drawn?: Deferred.Deferred<void>
) => {
  const stdout = process.stdout as NodeJS.WriteStream & { isTTY: boolean }
  return Effect.acquireUseRelease(
    Effect.sync(() => {
      const saved = { write: stdout.write, isTTY: stdout.isTTY }
      stdout.isTTY = isTTY
      stdout.write = ((chunk: string | Uint8Array) => {
        written.push(String(chunk))
        if (drawn !== undefined && String(chunk).startsWith("\r[")) Deferred.doneUnsafe(drawn, Effect.void)
        return true
      }) as typeof stdout.write
      return saved
    }),
    () => effect,
    (saved) =>
      Effect.sync(() => {
        stdout.write = saved.write
        stdout.isTTY = saved.isTTY
      })
  )
}

/**
 * Runs `chainjobs --url <server> ...args` in a fiber of its own, capturing
 * its output and error lines; `firstBar` resolves with the task's id once the
 * first progress line is printed (the task is recorded and followed).
 */
const follow = (...args: Array<string>) =>
  Effect.gen(function*() {
    const base = yield* baseUrl
    const lines: Array<string> = []
    const errors: Array<string> = []
    const firstBar = yield* Deferred.make<string>()
    const capture = {
      ...globalThis.console,
      log: (...parts: Array<unknown>) => {
        const line = parts.join(" ")
        lines.push(line)
        if (line.startsWith("[")) Deferred.doneUnsafe(firstBar, Effect.succeed(lines[0]))
      },
      error: (...parts: Array<unknown>) => errors.push(parts.join(" "))
    }
    const fiber = yield* Cli.run(["--url", base, ...args]).pipe(
      Effect.provideService(Console.Console, capture),
      Effect.provide(NodeServices.layer),
      Effect.forkChild
    )
    return { fiber, firstBar: Deferred.await(firstBar), lines, errors }
  })

layer(testServer(), { excludeTestServices: true })("chainjobs following a task", (it) => {
  it.effect("interrupting submit --watch leaves the task running, says how to stop it, and makes the exit code 130", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const id = yield* onStdout(
        false,
        written,
        Effect.gen(function*() {
          const followed = yield* follow("submit", "demo-scan", "--payload", endless, "--watch")
          const id = yield* followed.firstBar
          yield* Fiber.interrupt(followed.fiber)
          assert.deepStrictEqual(followed.errors, [`task ${id} keeps running on the server; stop it with: chainjobs interrupt ${id}`])
          return id
        })
      )
      // A pipe gets the bars as console lines: nothing is written to end a bar drawn in place.
      assert.deepStrictEqual(written, [])
      assert.strictEqual(Cli.interruptExitCode(), 130)
      assert.strictEqual((yield* request("GET", `/api/tasks/${id}`)).body.status, "running")
      yield* request("DELETE", `/api/tasks/${id}`)
    }))

  it.effect("interrupted on a terminal, the bar's line is ended before the message", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const drawn = yield* Deferred.make<void>()
      const followed = yield* onStdout(
        true,
        written,
        Effect.gen(function*() {
          const followed = yield* follow("submit", "demo-scan", "--payload", endless, "--watch")
          yield* Deferred.await(drawn)
          yield* Fiber.interrupt(followed.fiber)
          return followed
        }),
        drawn
      )
      const id = followed.lines[0]
      assert.match(written[0] ?? "", /^\r\[/, JSON.stringify(written))
      assert.strictEqual(written.at(-1), "\n", JSON.stringify(written))
      assert.deepStrictEqual(followed.errors, [`task ${id} keeps running on the server; stop it with: chainjobs interrupt ${id}`])
      yield* request("DELETE", `/api/tasks/${id}`)
    }))

  it.effect("a followed task interrupted on the server fails the command with how it ended", () =>
    Effect.gen(function*() {
      const followed = yield* follow("submit", "demo-scan", "--payload", endless, "--watch")
      const id = yield* followed.firstBar
      yield* request("POST", `/api/tasks/${id}/interrupt`)
      const exit = yield* Fiber.await(followed.fiber)
      const record = (yield* request("GET", `/api/tasks/${id}`)).body
      assert.strictEqual(record.status, "interrupted")
      assert.strictEqual(failure(exit), `task ${id} interrupted: ${record.errorMessage ?? "interrupted"}`)
    }))

  it.effect("on a terminal the bar is redrawn in place and the line ended once the task finished", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const { exit, lines } = yield* onStdout(
        true,
        written,
        chainjobs("submit", "demo-scan", "--payload", '{"fromBlock":1,"toBlock":3,"delayMillis":20}', "--watch")
      )
      assert.isTrue(Exit.isSuccess(exit), failure(exit))
      // Only the id and the result go through the console; the bar goes to the terminal.
      assert.isFalse(lines.some((line) => line.startsWith("[")), lines.join("\n"))
      assert.deepStrictEqual(JSON.parse(lines.slice(1).join("\n")), { blocks: 3, transfers: 3 })
      const bars = written.filter((chunk) => chunk.startsWith("\r["))
      assert.isAbove(bars.length, 0, JSON.stringify(written))
      for (const bar of bars) assert.match(bar, /^\r\[[#.]{30}\]\s+\d+% \w+.*\x1b\[K$/)
      assert.match(bars.at(-1)!, /100% completed/)
      assert.strictEqual(written.at(-1), "\n", JSON.stringify(written))
    }))

  it.effect("submit --webhook names the webhook to the server, which refuses it without a webhook secret", () =>
    Effect.gen(function*() {
      const { exit, lines } = yield* chainjobs(
        "submit", "demo-scan", "--payload", '{"fromBlock":1,"toBlock":2,"delayMillis":0}', "--webhook", "https://example.com/hook"
      )
      assert.deepStrictEqual(lines, [])
      assert.match(failure(exit), /webhook/i)
    }))

  it.effect("followed through a pipe, a finished task's bars are console lines and nothing is written to end a bar", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const { exit, lines } = yield* onStdout(
        false,
        written,
        chainjobs("submit", "demo-scan", "--payload", '{"fromBlock":1,"toBlock":2,"delayMillis":0}', "--watch")
      )
      assert.isTrue(Exit.isSuccess(exit), failure(exit))
      assert.include(lines.filter((line) => line.startsWith("[")).at(-1), "100% completed")
      assert.deepStrictEqual(written, [])
    }))

  it.effect("retry --watch follows the new task to its end and prints its result", () =>
    Effect.gen(function*() {
      const first = (yield* chainjobs("submit", "demo-scan", "--payload", '{"fromBlock":1,"toBlock":2,"delayMillis":0}', "--watch")).lines[0]
      const { exit, lines } = yield* chainjobs("retry", first, "--watch")
      assert.isTrue(Exit.isSuccess(exit), failure(exit))
      assert.notStrictEqual(lines[0], first)
      assert.include(lines.filter((line) => line.startsWith("[")).at(-1), "100% completed")
      const result = JSON.parse(lines.slice(lines.findLastIndex((line) => line.startsWith("[")) + 1).join("\n"))
      assert.deepStrictEqual(result, (yield* request("GET", `/api/tasks/${lines[0]}`)).body.result)
      assert.strictEqual(result.blocks, 2)
    }))
})
