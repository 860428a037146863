/**
 * A daemon's task that outlived its daemon: the runner running the daemon
 * stopped, its `Interrupt` to the task on another runner went on in the
 * background and died with it, and the task, handed over or not, runs on. The
 * daemon starting on another runner first ends that task (its tasks carry the
 * daemon's name in their ids, `ClusterTasks.daemonTaskId`), then submits its
 * own: never two of its tasks at once. Runners of `Runner.layer` in the test
 * process (`InProcessCluster.ts`) on PostgreSQL; the left-over task is made as
 * the stopped runner's daemon made it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Schedule } from "effect"
import { ClusterTasks } from "@chainjobs/cluster"
import { eventually, Gated, makeCluster, settled } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

describe.skipIf(pgTestUrl === undefined)("a daemon's task left running by a runner gone", () => {
  it.live("is interrupted by the daemon starting elsewhere before it submits its own", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a")
      const b = yield* cluster.start("b")
      yield* settled([a, b])
      const payload = { gate: "never" }
      const name = ClusterTasks.singletonNameOf("daemon", "gated", payload)
      // what the daemon's earlier run left: its task, running, no daemon any more to stop it
      const left = yield* b.tasks.submit(Gated, payload, { id: ClusterTasks.daemonTaskId(name, Date.now()) })
      yield* eventually(Effect.map(Effect.orDie(a.tasks.get(left.id)), (info) => info.status === "running"), () => "the left task runs")
      // declared on both runners, as a service does at start-up: one runs it
      const options = { restart: Schedule.spaced("100 millis") }
      const daemons = [yield* a.tasks.daemon(Gated, payload, options), yield* b.tasks.daemon(Gated, payload, options)]
      const current = Effect.map(Effect.forEach(daemons, (daemon) => daemon.current), (ids) => ids.find(Option.isSome))
      yield* eventually(Effect.map(current, (id) => id !== undefined), () => "the daemon starts its task")
      const started = Option.getOrThrow((yield* current)!)
      assert.isTrue(ClusterTasks.isDaemonTask(name, started), `${started} carries the daemon's name`)
      const [before, after] = yield* Effect.orDie(Effect.all([a.tasks.get(left.id), a.tasks.get(started)]))
      assert.strictEqual(before.status, "interrupted", `the left task ended first: ${JSON.stringify(before)}`)
      assert.isAtMost(before.finishedAt ?? Infinity, after.createdAt, "ended before the new one was submitted")
      const unfinished = yield* a.tasks.list({ kind: ["gated"], status: ["pending", "running"] })
      assert.deepStrictEqual(unfinished.items.map((info) => info.id), [started], "one task of the daemon at a time")
    }).pipe(Effect.scoped), { timeout: 90_000 })
})
