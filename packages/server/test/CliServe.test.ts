/**
 * `chainjobs serve` run in this process, as `main.ts` runs it in its own:
 * the settings given as flags reach the service (it listens on `--port`,
 * asks for the `--auth-tokens`' bearers), and interrupting the command stops
 * the service (its port refuses again). `main.test.ts` and `Startup.test.ts`
 * run the same command in a child process, where a mutation run cannot
 * reach it.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Console, Effect, Fiber } from "effect"
import { createServer } from "node:net"
import * as Cli from "../src/Cli.ts"

/** A port that was free a moment ago on 127.0.0.1. */
const freePort = Effect.promise(() =>
  new Promise<number>((resolve) => {
    const probe = createServer()
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as { readonly port: number }
      probe.close(() => resolve(port))
    })
  })
)

/** The status of `GET url` (with a bearer when given), or `"refused"` when nothing answered. */
const get = (url: string, token?: string) =>
  Effect.promise(() =>
    fetch(url, token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }).then(
      (response) => response.status,
      () => "refused" as const
    )
  )

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
      const quiet = { ...globalThis.console, log: () => {}, info: () => {}, warn: () => {}, error: () => {} }
      const serving = yield* Cli.run([
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--data-dir",
        ":memory:",
        "--dev-chain",
        "false",
        "--auth-tokens",
        "alice=s3cret",
        "--log-level",
        "none"
      ]).pipe(Effect.provideService(Console.Console, quiet), Effect.provide(NodeServices.layer), Effect.forkChild)
      assert.strictEqual(yield* firstAnswer(`${base}/healthz`), 200)
      assert.strictEqual(yield* get(`${base}/api/kinds`), 401)
      assert.strictEqual(yield* get(`${base}/api/kinds`, "s3cret"), 200)
      yield* Fiber.interrupt(serving)
      assert.strictEqual(yield* get(`${base}/healthz`), "refused")
    }), 40_000)

  it.live("a bad --pg-inserts stops serve before it binds, with an error naming the setting", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const quiet = { ...globalThis.console, log: () => {}, info: () => {}, warn: () => {}, error: () => {} }
      const error = yield* Cli.run([
        "serve",
        "--port",
        String(port),
        "--data-dir",
        ":memory:",
        "--dev-chain",
        "false",
        "--pg-inserts",
        "sometimes",
        "--log-level",
        "none"
      ]).pipe(Effect.provideService(Console.Console, quiet), Effect.provide(NodeServices.layer), Effect.flip)
      assert.strictEqual(error._tag, "ServerConfigError")
      assert.include(error.message, "CHAINJOBS_PG_INSERTS")
      assert.strictEqual(yield* get(`http://127.0.0.1:${port}/healthz`), "refused")
    }), 40_000)
})
