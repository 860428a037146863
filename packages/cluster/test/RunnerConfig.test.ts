/**
 * A runner's settings from its environment, and how they become the
 * cluster's `ShardingConfig`: defaults when nothing is set, every
 * `CHAINJOBS_RUNNER_*` variable read, bad values refused naming the variable
 * (settings given in code by `Runner.layer` before it connects), and the
 * failover tuning (lock refresh a third of the expiry) carried over.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, Layer, Option, Redacted, Schema } from "effect"
import { Runner, RunnerConfig } from "@chainjobs/cluster"

const from = (env: Record<string, string>) => ConfigProvider.fromEnv({ env })
const read = (env: Record<string, string>) => Effect.exit(RunnerConfig.config.parse(from(env)))
const readOptional = (env: Record<string, string>) => Effect.exit(RunnerConfig.configOptional.parse(from(env)))

const millis = (duration: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(duration))

/** The settings compared field by field, durations as milliseconds. */
const plain = (settings: RunnerConfig.RunnerSettings) => ({
  host: settings.host,
  port: settings.port,
  listenHost: Option.getOrUndefined(settings.listenHost),
  shards: settings.shards,
  healthCheckInterval: millis(settings.healthCheckInterval),
  refreshInterval: millis(settings.refreshInterval),
  messagePollInterval: millis(settings.messagePollInterval),
  lockExpiration: millis(settings.lockExpiration),
  directAdmission: settings.directAdmission,
  placement: RunnerConfig.placementOf(settings)
})

/** The failure's message, which must name the variable at fault. */
const failure = (exit: Exit.Exit<unknown, unknown>) => Exit.isFailure(exit) ? String(exit.cause) : undefined

describe("RunnerConfig", () => {
  it.effect("with nothing set, the defaults apply: 127.0.0.1:34431, 300 shards, 1 s intervals, 10 s locks, direct admission, local placement", () =>
    Effect.gen(function*() {
      const exit = yield* read({})
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      assert.deepStrictEqual(plain(exit.value), {
        host: "127.0.0.1",
        port: 34431,
        listenHost: undefined,
        shards: 300,
        healthCheckInterval: 1000,
        refreshInterval: 1000,
        messagePollInterval: 1000,
        lockExpiration: 10_000,
        directAdmission: true,
        placement: "local"
      })
      assert.deepStrictEqual(plain(exit.value), plain(RunnerConfig.defaults))
    }))

  it.effect("with direct admission off and no placement set, the placement is shard (local needs direct admission)", () =>
    Effect.gen(function*() {
      const exit = yield* read({ CHAINJOBS_RUNNER_DIRECT_ADMISSION: "false" })
      assert.isTrue(Exit.isSuccess(exit), failure(exit))
      if (!Exit.isSuccess(exit)) return
      assert.deepStrictEqual([exit.value.directAdmission, exit.value.placement], [false, "shard"])
      assert.strictEqual(RunnerConfig.defaultPlacement(false), "shard")
      assert.strictEqual(RunnerConfig.defaultPlacement(true), "local")
      // set, it is kept whatever the default
      const shard = yield* read({ CHAINJOBS_RUNNER_PLACEMENT: "shard" })
      assert.isTrue(Exit.isSuccess(shard) && shard.value.placement === "shard" && shard.value.directAdmission, failure(shard))
    }))

  it.effect("every setting is read from its CHAINJOBS_RUNNER_ variable", () =>
    Effect.gen(function*() {
      const exit = yield* read({
        CHAINJOBS_RUNNER_HOST: "runner-2.internal",
        CHAINJOBS_RUNNER_PORT: "40001",
        CHAINJOBS_RUNNER_LISTEN_HOST: "0.0.0.0",
        CHAINJOBS_RUNNER_SHARDS: "60",
        CHAINJOBS_RUNNER_HEALTH_CHECK_INTERVAL: "2 seconds",
        CHAINJOBS_RUNNER_REFRESH_INTERVAL: "3 seconds",
        CHAINJOBS_RUNNER_MESSAGE_POLL_INTERVAL: "250 millis",
        CHAINJOBS_RUNNER_LOCK_EXPIRATION: "30 seconds",
        CHAINJOBS_RUNNER_DIRECT_ADMISSION: "true",
        CHAINJOBS_RUNNER_PLACEMENT: "local"
      })
      assert.isTrue(Exit.isSuccess(exit), failure(exit))
      if (!Exit.isSuccess(exit)) return
      assert.deepStrictEqual(plain(exit.value), {
        host: "runner-2.internal",
        port: 40001,
        listenHost: "0.0.0.0",
        shards: 60,
        healthCheckInterval: 2000,
        refreshInterval: 3000,
        messagePollInterval: 250,
        lockExpiration: 30_000,
        directAdmission: true,
        placement: "local"
      })
    }))

  it.effect("a bad value is refused with a message naming its variable", () =>
    Effect.gen(function*() {
      for (const [variable, value] of [
        ["CHAINJOBS_RUNNER_PORT", "0"],
        ["CHAINJOBS_RUNNER_PORT", "65536"],
        ["CHAINJOBS_RUNNER_PORT", "34431.5"],
        ["CHAINJOBS_RUNNER_PORT", "http"],
        ["CHAINJOBS_RUNNER_SHARDS", "0"],
        ["CHAINJOBS_RUNNER_SHARDS", "-3"],
        ["CHAINJOBS_RUNNER_SHARDS", "2.5"],
        ["CHAINJOBS_RUNNER_HEALTH_CHECK_INTERVAL", "often"],
        ["CHAINJOBS_RUNNER_REFRESH_INTERVAL", "soon"],
        ["CHAINJOBS_RUNNER_MESSAGE_POLL_INTERVAL", "1 fortnight"],
        ["CHAINJOBS_RUNNER_LOCK_EXPIRATION", "forever-ish"],
        ["CHAINJOBS_RUNNER_DIRECT_ADMISSION", "sometimes"],
        ["CHAINJOBS_RUNNER_PLACEMENT", "nearby"],
        ["CHAINJOBS_RUNNER_PLACEMENT", "Local"]
      ]) {
        const exit = yield* read({ [variable]: value })
        assert.isTrue(Exit.isFailure(exit), `${variable}=${JSON.stringify(value)} was accepted`)
        assert.include(failure(exit) ?? "", variable)
      }
    }))

  it.effect("local placement needs direct admission: refused naming both variables, from the environment and in code", () =>
    Effect.gen(function*() {
      const exit = yield* read({ CHAINJOBS_RUNNER_PLACEMENT: "local", CHAINJOBS_RUNNER_DIRECT_ADMISSION: "false" })
      assert.isTrue(Exit.isFailure(exit), "local placement without direct admission was accepted")
      assert.include(failure(exit) ?? "", "CHAINJOBS_RUNNER_PLACEMENT=local")
      assert.include(failure(exit) ?? "", "CHAINJOBS_RUNNER_DIRECT_ADMISSION=true")
      const shard = yield* read({ CHAINJOBS_RUNNER_PLACEMENT: "shard", CHAINJOBS_RUNNER_DIRECT_ADMISSION: "false" })
      assert.isTrue(Exit.isSuccess(shard) && shard.value.placement === "shard" && !shard.value.directAdmission, failure(shard))
      const refused = yield* Effect.flip(RunnerConfig.validate({ ...RunnerConfig.defaults, placement: "local", directAdmission: false }))
      assert.strictEqual(refused._tag, "InvalidRunnerSettings")
      assert.include(refused.message, "CHAINJOBS_RUNNER_PLACEMENT=local")
      const local = { ...RunnerConfig.defaults, placement: "local" as const }
      assert.strictEqual(yield* RunnerConfig.validate(local), local)
    }))

  // live: a connection attempt (without the check first) must fail as itself, not wait on a test clock
  it.live("Runner.layer refuses settings that cannot run together before it connects: an unreachable database is not tried", () =>
    Effect.gen(function*() {
      const refused = yield* Runner.layer({
        // nothing listens on port 1: a runner that connected first would fail with a SqlError instead
        databaseUrl: Redacted.make("postgres://postgres@127.0.0.1:1/unreachable"),
        runner: { ...RunnerConfig.defaults, placement: "local", directAdmission: false }
      }).pipe(Layer.build, Effect.scoped, Effect.flip)
      assert.strictEqual(refused._tag, "InvalidRunnerSettings")
      assert.include(refused.message, "CHAINJOBS_RUNNER_PLACEMENT=local")
    }))

  it.effect("an empty variable counts as unset: the default applies", () =>
    Effect.gen(function*() {
      const exit = yield* read({ CHAINJOBS_RUNNER_HOST: "", CHAINJOBS_RUNNER_LISTEN_HOST: "", CHAINJOBS_RUNNER_PORT: "" })
      assert.isTrue(Exit.isSuccess(exit), failure(exit))
      if (Exit.isSuccess(exit)) assert.deepStrictEqual(plain(exit.value), plain(RunnerConfig.defaults))
    }))

  it.effect.prop(
    "a port is accepted exactly when it is an integer in 1..65535",
    { port: Schema.Int.check(Schema.isBetween({ minimum: -70_000, maximum: 140_000 })) },
    ({ port }) =>
      Effect.gen(function*() {
        const exit = yield* read({ CHAINJOBS_RUNNER_PORT: String(port) })
        if (port >= 1 && port <= 65535) assert.isTrue(Exit.isSuccess(exit) && exit.value.port === port)
        else assert.include(failure(exit) ?? "accepted", "CHAINJOBS_RUNNER_PORT")
      })
  )

  it.effect.prop(
    "a shard count is accepted exactly when it is a positive integer",
    { shards: Schema.Int.check(Schema.isBetween({ minimum: -5, maximum: 5000 })) },
    ({ shards }) =>
      Effect.gen(function*() {
        const exit = yield* read({ CHAINJOBS_RUNNER_SHARDS: String(shards) })
        if (shards >= 1) assert.isTrue(Exit.isSuccess(exit) && exit.value.shards === shards)
        else assert.include(failure(exit) ?? "accepted", "CHAINJOBS_RUNNER_SHARDS")
      })
  )

  it.effect("runner mode is off unless CHAINJOBS_RUNNER is true, and then its other variables are not read", () =>
    Effect.gen(function*() {
      for (const env of [{}, { CHAINJOBS_RUNNER: "false" }, { CHAINJOBS_RUNNER: "false", CHAINJOBS_RUNNER_PORT: "0" }]) {
        const exit = yield* readOptional(env)
        assert.isTrue(Exit.isSuccess(exit) && Option.isNone(exit.value), JSON.stringify(env))
      }
      const on = yield* readOptional({ CHAINJOBS_RUNNER: "true", CHAINJOBS_RUNNER_SHARDS: "12" })
      assert.isTrue(Exit.isSuccess(on) && Option.isSome(on.value) && on.value.value.shards === 12)
      const badWhenOn = yield* readOptional({ CHAINJOBS_RUNNER: "true", CHAINJOBS_RUNNER_PORT: "0" })
      assert.include(failure(badWhenOn) ?? "accepted", "CHAINJOBS_RUNNER_PORT")
      const notABoolean = yield* readOptional({ CHAINJOBS_RUNNER: "sometimes" })
      assert.include(failure(notABoolean) ?? "accepted", "CHAINJOBS_RUNNER")
    }))

  it.effect.prop(
    "the sharding config carries every setting, with the lock refreshed three times per expiry",
    {
      host: Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(20)),
      port: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 65535 })),
      listen: Schema.optional(Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(20))),
      shards: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 2000 })),
      health: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 60_000 })),
      refresh: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 60_000 })),
      poll: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 60_000 })),
      lock: Schema.Int.check(Schema.isBetween({ minimum: 3, maximum: 600_000 }))
    },
    ({ health, host, listen, lock, poll, port, refresh, shards }) =>
      Effect.sync(() => {
        const sharding = RunnerConfig.toShardingConfig({
          host,
          port,
          listenHost: Option.fromUndefinedOr(listen),
          shards,
          healthCheckInterval: Duration.millis(health),
          refreshInterval: Duration.millis(refresh),
          messagePollInterval: Duration.millis(poll),
          lockExpiration: Duration.millis(lock),
          directAdmission: true,
          placement: "shard"
        })
        const address = Option.getOrThrow(sharding.runnerAddress!)
        assert.deepStrictEqual([address.host, address.port], [host, port])
        const listenAddress = Option.getOrUndefined(sharding.runnerListenAddress!)
        assert.deepStrictEqual(listenAddress && [listenAddress.host, listenAddress.port], listen && [listen, port])
        assert.strictEqual(sharding.shardsPerGroup, shards)
        assert.deepStrictEqual(sharding.availableShardGroups, ["default"])
        assert.deepStrictEqual(sharding.assignedShardGroups, ["default"])
        assert.strictEqual(sharding.runnerShardWeight, 1)
        assert.strictEqual(millis(sharding.runnerHealthCheckInterval!), health)
        assert.strictEqual(millis(sharding.refreshAssignmentsInterval!), refresh)
        assert.strictEqual(millis(sharding.entityMessagePollInterval!), poll)
        assert.strictEqual(millis(sharding.shardLockExpiration!), lock)
        assert.closeTo(millis(sharding.shardLockRefreshInterval!), lock / 3, 1e-6)
        assert.isBelow(millis(sharding.shardLockRefreshInterval!), lock)
        assert.strictEqual(sharding.simulateRemoteSerialization, false)
      })
  )

  it.effect("the sharding config of the defaults moves a dead runner's shards fast: 1 s pings and reads, 10 s locks", () =>
    Effect.sync(() => {
      const sharding = RunnerConfig.toShardingConfig(RunnerConfig.defaults)
      const address = Option.getOrThrow(sharding.runnerAddress!)
      assert.deepStrictEqual([address.host, address.port], ["127.0.0.1", 34431])
      assert.isTrue(Option.isNone(sharding.runnerListenAddress!))
      assert.strictEqual(sharding.shardsPerGroup, 300)
      assert.strictEqual(millis(sharding.runnerHealthCheckInterval!), 1000)
      assert.strictEqual(millis(sharding.shardLockExpiration!), 10_000)
      assert.strictEqual(millis(sharding.entityReplyPollInterval!), 200)
      assert.strictEqual(millis(sharding.entityTerminationTimeout!), 15_000)
      assert.strictEqual(sharding.maxResidentEntities, 100_000)
    }))
})
