import { TaskInfo, Tasks } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Effect, type Scope } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { runtime } from "./fixtures/crashTasks.ts"
import { pgTestSchema, pgTestUrl, reportSkipped } from "./pgTestDatabase.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"

const worker = fileURLToPath(new URL("./fixtures/crashWorker.ts", import.meta.url))

/** What the killed worker reported before it died. */
interface Reported {
  readonly acked: ReadonlyArray<string>
  /** The highest stored checkpoint per task. */
  readonly checkpoints: ReadonlyMap<string, number>
}

/**
 * Runs the worker on `database` and kills it with SIGKILL once all `tasks`
 * are acknowledged and both tasks asked to hold do (a counter mid-count and a
 * fragile task running): the other tasks are wherever the machine's pace
 * left them.
 */
const runUntilKilled = (database: string, tasks: number) =>
  Effect.callback<Reported, Error>((resume) => {
    const child = spawn(process.execPath, [worker, database, String(tasks)], { stdio: ["ignore", "pipe", "inherit"] })
    const acked: Array<string> = []
    const checkpoints = new Map<string, number>()
    let pending = ""
    let holding = 0
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (pending + chunk).split("\n")
      pending = lines.pop()!
      for (const line of lines) {
        const [what, id, count] = line.split(" ")
        if (what === "acked") acked.push(id)
        if (what === "checkpoint") checkpoints.set(id, Number(count))
        if (what === "holding") holding++
      }
      if (acked.length === tasks && holding >= 2) child.kill("SIGKILL")
    })
    child.on("close", (code, signal) =>
      resume(
        signal === "SIGKILL"
          ? Effect.succeed({ acked, checkpoints })
          : Effect.fail(new Error(`the worker exited on its own (code ${code})`))
      ))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/** The crash test on the database a spec names (see `crashTasks.storeFor`); `database` makes a fresh one. */
const crashTest = <E>(database: Effect.Effect<string, E, Scope.Scope>) =>
  it.live("after SIGKILL every acknowledged task finishes, and resumed tasks continue from their checkpoint", () =>
    Effect.gen(function*() {
      const spec = yield* database
      const reported = yield* runUntilKilled(spec, 15)
      const finals = yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        return yield* Effect.forEach(reported.acked, tasks.awaitInfo, { concurrency: "unbounded" })
      }).pipe(Effect.provide(runtime(spec), { local: true }))
      assert.strictEqual(finals.length, 15)
      let resumed = 0
      let lost = 0
      for (const info of finals) {
        assert.isTrue(TaskInfo.isTerminal(info.status), `${info.id} is ${info.status}`)
        if (info.kind === "fragile") {
          if (info.reason === "lost") lost++
          else assert.strictEqual(info.status, "completed")
          continue
        }
        assert.strictEqual(info.status, "completed")
        const result = info.result as { resumedFrom: number; attempt: number }
        const before = reported.checkpoints.get(info.id) ?? 0
        assert.isAtLeast(result.resumedFrom, before, `${info.id} started over below its stored checkpoint`)
        if (result.resumedFrom > 0) {
          resumed++
          assert.strictEqual(result.attempt, 2)
        }
      }
      // The kill came while counters were mid-count and fragile tasks were running.
      assert.isAbove(resumed, 0)
      assert.isAbove(lost, 0)
    }), 60_000)

describe("crash recovery on SQLite", () => {
  crashTest(Effect.map(tempDatabaseFile, (file) => `sqlite:${file}`))
})

describe.skipIf(pgTestUrl === undefined)("crash recovery on PostgreSQL", () => {
  crashTest(Effect.map(pgTestSchema, (schema) => `pg:${schema}`))
})
reportSkipped("the crash test")
