/**
 * `chainjobs serve` run in this process, as `main.ts` runs it in its own:
 * the settings given as flags reach the service (it listens on `--port`,
 * asks for the `--auth-tokens`' bearers), and interrupting the command stops
 * the service (its port refuses again). `main.test.ts` and `Startup.test.ts`
 * run the same command in a child process, where a mutation run cannot
 * reach it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { freePort, heldPort } from "@chainjobs/tasks/test/ports"
import { get, serve, serveLogging } from "./serve.ts"

/** Probes `url` every 20 ms until it answers, for at most 20 s; the failure says what the last probe saw. */
const firstAnswer = (url: string) =>
  Effect.gen(function*() {
    let seen: number | "refused" = "refused"
    for (let probe = 0; probe < 1000; probe++) {
      seen = yield* get(url)
      if (seen !== "refused") return seen
      yield* Effect.sleep("20 millis")
    }
    return assert.fail(`${url} did not answer within 20 s (the last probe: ${seen})`)
  })

describe("chainjobs serve", () => {
  it.live("serves on --port with --auth-tokens' bearers, and stops when interrupted", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const base = `http://127.0.0.1:${port}`
      const serving = yield* serve(port, "--auth-tokens", "alice=s3cret").pipe(Effect.forkChild)
      assert.strictEqual(yield* firstAnswer(`${base}/healthz`), 200)
      assert.strictEqual(yield* get(`${base}/api/kinds`), 401)
      assert.strictEqual(yield* get(`${base}/api/kinds`, "s3cret"), 200)
      yield* Fiber.interrupt(serving)
      assert.strictEqual(yield* get(`${base}/healthz`), "refused")
    }), 40_000)

  it.live("a bad --pg-inserts stops serve before it binds, with an error naming the setting", () =>
    Effect.gen(function*() {
      // the port is held: a serve that went on to bind it would fail with ServeError, not ServerConfigError
      const port = yield* heldPort
      // with a database URL (nothing listens there), so that only the value can be refused, not the setting itself
      const error = yield* Effect.flip(
        serve(port, "--database-url", "postgres://127.0.0.1:1/none", "--pg-inserts", "sometimes")
      )
      assert.strictEqual(error._tag, "ServerConfigError")
      assert.include(error.message, "CHAINJOBS_PG_INSERTS")
    }).pipe(Effect.scoped), 40_000)

  it.live("writes the service's log as JSON lines on stdout: a submission's entry at --log-level info", () =>
    Effect.gen(function*() {
      const written: Array<string> = []
      const write = process.stdout.write
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          process.stdout.write = ((chunk: string | Uint8Array, ...rest: Array<any>) => {
            written.push(String(chunk))
            return write.call(process.stdout, chunk, ...rest)
          }) as typeof process.stdout.write
        }),
        () => Effect.sync(() => (process.stdout.write = write))
      )
      const port = yield* freePort
      const base = `http://127.0.0.1:${port}`
      const serving = yield* serveLogging(port, "info").pipe(Effect.forkChild)
      assert.strictEqual(yield* firstAnswer(`${base}/healthz`), 200)
      const { taskId } = yield* Effect.promise(() =>
        fetch(`${base}/api/tasks/demo-scan`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ fromBlock: 1, toBlock: 1, delayMillis: 0 })
        }).then((response) => response.json() as Promise<{ taskId: string }>)
      )
      const entries = () => written.join("").split("\n").filter((line) => line.includes(taskId))
      for (let look = 0; look < 500 && entries().length === 0; look++) yield* Effect.sleep("20 millis")
      yield* Fiber.interrupt(serving)
      const submitted = entries().map((line) => JSON.parse(line)).find((entry) => entry.message === "task submitted")
      assert.isDefined(submitted, `no "task submitted" line of ${taskId} on stdout: ${JSON.stringify(entries())}`)
      assert.strictEqual(submitted.level, "INFO")
      assert.strictEqual(submitted.annotations.taskId, taskId)
    }).pipe(Effect.scoped), 40_000)
})
