/**
 * A runner's placement left unset in code (`RunnerSettings.placement`) is derived from its direct admission
 * (`RunnerConfig.placementOf`): `{ ...RunnerConfig.defaults, directAdmission: false }`, the natural way to turn direct
 * admission off, places by `shard` and starts, where it used to carry the defaults' `local` along and be refused.
 * `local` set explicitly without direct admission is still refused with `InvalidRunnerSettings`. The start is a real
 * `Runner.layer` on a fresh PostgreSQL database.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Redacted, Schema } from "effect"
import { Runner, RunnerConfig } from "@chainjobs/cluster"
import { Task, Tasks } from "@chainjobs/tasks"
import { makeCluster } from "./InProcessCluster.ts"
import { freePort, pgTestUrl } from "./RunnerProcess.ts"

/** A task that answers at once: enough to see the runner admit and run one. */
const Echo = Task.define("echo", { payload: Schema.Struct({ n: Schema.Number }), success: Schema.Number })

describe("a runner's placement left unset", () => {
  it.effect("is derived from direct admission: local with it, shard without it; local set without it is refused", () =>
    Effect.gen(function*() {
      assert.strictEqual(RunnerConfig.placementOf(RunnerConfig.defaults), "local")
      const undirected = yield* RunnerConfig.validate({ ...RunnerConfig.defaults, directAdmission: false })
      assert.strictEqual(RunnerConfig.placementOf(undirected), "shard")
      assert.strictEqual(RunnerConfig.placementOf({ ...RunnerConfig.defaults, placement: "shard" }), "shard")
      const refused = yield* Effect.flip(
        RunnerConfig.validate({ ...RunnerConfig.defaults, directAdmission: false, placement: "local" })
      )
      assert.strictEqual(refused._tag, "InvalidRunnerSettings")
      assert.include(refused.message, "CHAINJOBS_RUNNER_PLACEMENT=local needs CHAINJOBS_RUNNER_DIRECT_ADMISSION=true")
    }))

  it.live.skipIf(pgTestUrl === undefined)(
    "{ ...RunnerConfig.defaults, directAdmission: false } starts a runner on PostgreSQL that runs a task submitted on it",
    () =>
      Effect.gen(function*() {
        const cluster = yield* makeCluster
        const port = yield* freePort
        const runner = Runner.layer({
          databaseUrl: Redacted.make(cluster.databaseUrl),
          runner: { ...RunnerConfig.defaults, port, shards: 12, directAdmission: false },
          schema: "chainjobs",
          maxConnections: 4
        })
        const built = yield* Layer.build(Layer.provideMerge(Task.implement(Echo, ({ n }) => Effect.succeed(n * 2)), runner))
        const tasks = Context.get(built, Tasks.Tasks)
        const handle = yield* tasks.submit(Echo, { n: 21 })
        assert.strictEqual(yield* handle.join, 42)
        // no direct admission: no shard of this runner has a guard open
        assert.strictEqual(yield* Context.get(built, Runner.RunnerStatus).shardsGuarded, 0)
      }).pipe(Effect.scoped),
    60_000
  )
})
