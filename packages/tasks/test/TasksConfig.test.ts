/** The supervisor's settings: defaults, overrides in code, and the CHAINJOBS_ variables. */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, Layer } from "effect"
import * as TasksConfig from "../src/TasksConfig.ts"

const fromEnv = (env: Record<string, string>, options?: Partial<TasksConfig.TasksConfig["Service"]>) =>
  Effect.exit(
    TasksConfig.TasksConfig.useSync((config) => config).pipe(
      Effect.provide(TasksConfig.layerFromEnv(options).pipe(
        Layer.provide(Layer.succeed(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))
      ))
    )
  )

const millis = (input: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(input))

describe("TasksConfig", () => {
  it("layer puts the given settings over the defaults", () => {
    const config = TasksConfig.make({ maxWorkers: 7 })
    assert.strictEqual(config.maxWorkers, 7)
    assert.strictEqual(millis(config.shutdownGracePeriod), 30_000)
    assert.strictEqual(millis(config.heartbeatCheckInterval), 10_000)
    assert.strictEqual(millis(config.retentionSweepInterval), 60_000)
  })

  it.effect("layerFromEnv reads the CHAINJOBS_ variables, defaults the rest, and takes overrides last", () =>
    Effect.gen(function*() {
      const read = yield* fromEnv({ CHAINJOBS_MAX_WORKERS: "12", CHAINJOBS_SHUTDOWN_GRACE: "5 seconds" }, {
        retentionSweepInterval: "2 minutes"
      })
      assert.isTrue(Exit.isSuccess(read))
      if (!Exit.isSuccess(read)) return
      assert.strictEqual(read.value.maxWorkers, 12)
      assert.strictEqual(millis(read.value.shutdownGracePeriod), 5_000)
      assert.strictEqual(millis(read.value.heartbeatCheckInterval), 10_000)
      assert.strictEqual(millis(read.value.retentionSweepInterval), 120_000)
    }))

  it.effect("a worker count that is not a positive integer is refused", () =>
    Effect.gen(function*() {
      for (const bad of ["0", "-3", "2.5", "many"]) {
        assert.isTrue(Exit.isFailure(yield* fromEnv({ CHAINJOBS_MAX_WORKERS: bad })), bad)
      }
    }))
})
