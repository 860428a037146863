import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, Option, Schema } from "effect"
import * as ServerConfig from "../src/ServerConfig.ts"

const loadFrom = (env: Record<string, string>) =>
  Effect.exit(Effect.provideService(ServerConfig.load, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))

const failureMessage = (exit: Exit.Exit<unknown, ServerConfig.ServerConfigError>) => {
  if (Exit.isSuccess(exit)) return undefined
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  return reason?._tag === "Fail" ? reason.error.message : undefined
}

const database = { CHAINJOBS_DATABASE_URL: "postgres://jobs@db:5432/jobs" }

describe("runner mode settings", () => {
  it.effect("are off unless CHAINJOBS_RUNNER is true, and read from CHAINJOBS_RUNNER_* when on", () =>
    Effect.gen(function*() {
      const off = yield* loadFrom(database)
      assert.isTrue(Exit.isSuccess(off) && Option.isNone(off.value.runner))
      const on = yield* loadFrom({
        ...database,
        CHAINJOBS_RUNNER: "true",
        CHAINJOBS_RUNNER_HOST: "runner-2",
        CHAINJOBS_RUNNER_PORT: "34500",
        CHAINJOBS_RUNNER_SHARDS: "120",
        CHAINJOBS_RUNNER_LOCK_EXPIRATION: "8 seconds"
      })
      assert.isTrue(Exit.isSuccess(on))
      if (!Exit.isSuccess(on) || Option.isNone(on.value.runner)) return assert.fail("runner mode is off")
      const runner = on.value.runner.value
      assert.strictEqual(runner.host, "runner-2")
      assert.strictEqual(runner.port, 34500)
      assert.strictEqual(runner.shards, 120)
      assert.strictEqual(Duration.toMillis(runner.lockExpiration), 8000)
    }))

  it.effect("read the placement of unkeyed tasks (local by default, shard without direct admission), and refuse local placement without direct admission before anything starts", () =>
    Effect.gen(function*() {
      const runner = { ...database, CHAINJOBS_RUNNER: "true" }
      const byDefault = yield* loadFrom(runner)
      assert.isTrue(Exit.isSuccess(byDefault) && Option.getOrThrow(byDefault.value.runner).placement === "local")
      const undirectedDefault = yield* loadFrom({ ...runner, CHAINJOBS_RUNNER_DIRECT_ADMISSION: "false" })
      assert.isTrue(Exit.isSuccess(undirectedDefault) && Option.getOrThrow(undirectedDefault.value.runner).placement === "shard")
      const shard = yield* loadFrom({ ...runner, CHAINJOBS_RUNNER_PLACEMENT: "shard" })
      assert.isTrue(Exit.isSuccess(shard) && Option.getOrThrow(shard.value.runner).placement === "shard")
      const undirected = yield* loadFrom({ ...runner, CHAINJOBS_RUNNER_PLACEMENT: "local", CHAINJOBS_RUNNER_DIRECT_ADMISSION: "false" })
      assert.include(failureMessage(undirected) ?? "", "CHAINJOBS_RUNNER_PLACEMENT=local needs CHAINJOBS_RUNNER_DIRECT_ADMISSION=true")
      assert.include(failureMessage(yield* loadFrom({ ...runner, CHAINJOBS_RUNNER_PLACEMENT: "nearby" })) ?? "", "CHAINJOBS_RUNNER_PLACEMENT")
    }))

  it.effect("refuse runner mode without a PostgreSQL database, before anything starts", () =>
    Effect.gen(function*() {
      const message = failureMessage(yield* loadFrom({ CHAINJOBS_RUNNER: "true" }))
      assert.include(message ?? "", "CHAINJOBS_RUNNER needs CHAINJOBS_DATABASE_URL")
    }))

  it.effect.prop(
    "refuse a runner port outside 1..65535, naming the variable",
    { port: Schema.Int.check(Schema.isBetween({ minimum: -100_000, maximum: 200_000 })) },
    ({ port }) =>
      Effect.gen(function*() {
        const exit = yield* loadFrom({ ...database, CHAINJOBS_RUNNER: "true", CHAINJOBS_RUNNER_PORT: String(port) })
        if (port >= 1 && port <= 65535) {
          assert.isTrue(Exit.isSuccess(exit) && Option.getOrThrow(exit.value.runner).port === port)
        } else {
          assert.include(failureMessage(exit) ?? "", "CHAINJOBS_RUNNER_PORT")
        }
      })
  )
})
