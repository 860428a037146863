/**
 * The service started as a child process while a client probes its port
 * every few milliseconds: every probe is answered or refused (connection
 * refused before the port listens), none waits for ever, from the first byte
 * the socket accepts on.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { freePort } from "@chainjobs/tasks/test/ports"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

/** How a probe ended: an HTTP status, or refused before any answer. */
type Outcome = number | "refused"

describe("start-up", () => {
  it.live("requests sent while the service starts are all answered or refused, none left hanging", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(process.execPath, [main, "serve", "--port", String(port), "--data-dir", ":memory:", "--dev-chain", "false"], {
            stdio: ["ignore", "ignore", "ignore"]
          })
        ),
        (child) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
      )
      const outcomes = yield* Effect.promise(async () => {
        const probes: Array<Promise<Outcome>> = []
        let answered = false
        const probe = () => {
          const sent = fetch(`http://127.0.0.1:${port}/healthz`).then((response) => response.status, () => "refused" as const)
          sent.then((outcome) => {
            if (outcome !== "refused") answered = true
          })
          probes.push(sent)
        }
        // Every 5 ms until the first answer, then 40 more at once.
        while (!answered) {
          probe()
          await new Promise((resolve) => setTimeout(resolve, 5))
        }
        for (let i = 0; i < 40; i++) probe()
        return Promise.all(probes)
      })
      assert.isTrue(outcomes.every((outcome) => outcome === "refused" || outcome === 200 || outcome === 503), JSON.stringify(outcomes))
      assert.include(outcomes, 200)
    }), { timeout: 30_000 })
})
