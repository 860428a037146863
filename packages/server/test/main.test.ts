import { assert, describe, it } from "@effect/vitest"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { TaskStore } from "@chainjobs/tasks"
import { Effect, Option } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { openEvents } from "./http.ts"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

/** Runs `chainjobs serve` as a child process; killed when the scope closes if it is still running. */
const serve = (...args: Array<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => spawn(process.execPath, [main, "serve", "--port", "0", ...args], { stdio: ["ignore", "pipe", "pipe"] })),
    (child) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  )

/** The base URL the child prints once it listens. */
const listening = (child: ChildProcess) =>
  Effect.callback<string, Error>((resume) => {
    let output = ""
    child.stdout!.on("data", (chunk) => {
      output += String(chunk)
      const match = /listening on (http:\/\/\S+)/.exec(output)
      if (match !== null) resume(Effect.succeed(match[1]))
    })
    child.once("exit", (code) => resume(Effect.fail(new Error(`the server exited (${code}) before listening: ${output}`))))
  })

const exited = (child: ChildProcess) =>
  Effect.callback<number | null>((resume) => {
    if (child.exitCode !== null) return resume(Effect.succeed(child.exitCode))
    child.once("exit", (code) => resume(Effect.succeed(code)))
  })

const finished = (event: any) => ["completed", "failed", "interrupted"].includes(event.status)

const post = (url: string, body: unknown) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })

describe("chainjobs serve", () => {
  it.live("SIGTERM stops intake, drains running tasks within the grace period, and exits 0", () =>
    Effect.gen(function*() {
      const dataDir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "chainjobs-data-"))),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      const child = yield* serve("--shutdown-grace", "3 seconds", "--data-dir", dataDir, "--dev-chain", "false")
      const base = yield* listening(child)
      const feed = yield* Effect.promise(() => openEvents(`${base}/api/events`))
      const short = yield* Effect.promise(() =>
        post(`${base}/api/tasks/demo-scan`, { fromBlock: 1, toBlock: 4, delayMillis: 150 }).then((r) => r.json() as Promise<any>)
      )
      const long = yield* Effect.promise(() =>
        post(`${base}/api/tasks/demo-scan`, { fromBlock: 0, toBlock: 1_000_000, delayMillis: 1000 }).then((r) => r.json() as Promise<any>)
      )
      yield* Effect.promise(() =>
        Promise.all([short.taskId, long.taskId].map((id) => feed.until((e) => e.id === id && e.status === "running")))
      )

      child.kill("SIGTERM")
      // Intake stops at once: the probe turns unready and submissions are refused while tasks drain.
      yield* Effect.promise(async () => {
        while ((await fetch(`${base}/readyz`)).status !== 503) await new Promise((r) => setTimeout(r, 20))
      })
      const refused = yield* Effect.promise(() =>
        post(`${base}/api/tasks/demo-scan`, { fromBlock: 1, toBlock: 1, delayMillis: 0 }).then(async (r) => ({ status: r.status, body: await r.json() as any }))
      )
      assert.strictEqual(refused.status, 409)
      assert.strictEqual(refused.body.reason, "shutting-down")

      const shortFinal = yield* Effect.promise(() => feed.until((e) => e.id === short.taskId && finished(e)))
      const longFinal = yield* Effect.promise(() => feed.until((e) => e.id === long.taskId && finished(e)))
      assert.strictEqual(shortFinal.status, "completed")
      assert.deepStrictEqual(shortFinal.result, { blocks: 4, transfers: 4 })
      assert.strictEqual(longFinal.status, "interrupted")
      assert.strictEqual(yield* exited(child), 0)
      yield* Effect.promise(() => feed.ended)

      // The final states are in the SQLite file for the next process.
      const stored = yield* Effect.gen(function*() {
        const store = yield* TaskStore.TaskStore
        return yield* Effect.forEach([short.taskId, long.taskId], (id) => store.get(id))
      }).pipe(Effect.provide(SqlTaskStore.layerSqlite({ filename: join(dataDir, "chainjobs.db") })))
      assert.deepStrictEqual(stored.map((info) => Option.map(info, (i) => i.status)), [Option.some("completed"), Option.some("interrupted")])
    }), { timeout: 60_000 })

  it.live("its fibers run on the turn scheduler, whose backlog /metrics shows", () =>
    Effect.gen(function*() {
      const dataDir = yield* Effect.acquireRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "chainjobs-data-"))),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      const child = yield* serve("--data-dir", dataDir, "--dev-chain", "false")
      const base = yield* listening(child)
      const text = yield* Effect.promise(() => fetch(`${base}/metrics`).then((r) => r.text()))
      const value = (name: string) => {
        const line = text.split("\n").find((l) => l.startsWith(`${name} `))
        assert.isDefined(line, `no ${name} in /metrics`)
        return Number(line!.split(" ")[1])
      }
      // Work has waited for a turn since the service started (every fiber's first run does): only the turn
      // scheduler measures it (Effect's own reports 0).
      assert.isAbove(value("chainjobs_scheduler_wait_seconds_max"), 0)
      assert.isAtLeast(value("chainjobs_scheduler_ready_fibers"), 0)
    }), { timeout: 60_000 })
})
