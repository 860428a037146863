import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Exit, Logger, LogLevel, Option, Redacted, Schema } from "effect"
import * as Server from "../src/Server.ts"
import * as ServerConfig from "../src/ServerConfig.ts"
import { request, testServer } from "./http.ts"

const loadFrom = (env: Record<string, string>) =>
  Effect.exit(Effect.provideService(ServerConfig.load, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))

describe("ServerConfig", () => {
  it.effect("with nothing set, the embedded defaults apply", () =>
    Effect.gen(function*() {
      const settings = yield* loadFrom({})
      assert.isTrue(Exit.isSuccess(settings))
      if (Exit.isSuccess(settings)) assert.deepStrictEqual(settings.value, ServerConfig.defaults)
    }))

  it.effect("every setting is read from its CHAINJOBS_ variable", () =>
    Effect.gen(function*() {
      const exit = yield* loadFrom({
        CHAINJOBS_HOST: "0.0.0.0",
        CHAINJOBS_PORT: "9090",
        CHAINJOBS_DATA_DIR: "/var/lib/chainjobs",
        CHAINJOBS_DATABASE_URL: "postgres://jobs@db:5432/jobs",
        CHAINJOBS_PG_INSERTS: "checked",
        CHAINJOBS_CHAINS: JSON.stringify([{
          name: "mainnet",
          chainId: 1,
          endpoints: [{ url: "https://a.example/rpc", maxConnections: 4, rateLimit: { limit: 25, windowMillis: 1000 } }, {
            url: "https://b.example/rpc"
          }]
        }]),
        CHAINJOBS_DEV_CHAIN: "false",
        CHAINJOBS_CHAIN_KINDS: JSON.stringify({ "chain/sync-events": { timeoutMillis: 1_800_000, retries: 0 } }),
        CHAINJOBS_AUTH_TOKENS: "alice=t1,ops=t2",
        CHAINJOBS_ADMINS: "ops",
        CHAINJOBS_MAX_WORKERS: "8",
        CHAINJOBS_SHUTDOWN_GRACE: "5 seconds"
      })
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      const settings = exit.value
      assert.strictEqual(settings.host, "0.0.0.0")
      assert.strictEqual(settings.port, 9090)
      assert.strictEqual(settings.dataDir, "/var/lib/chainjobs")
      assert.strictEqual(Option.map(settings.databaseUrl, Redacted.value).pipe(Option.getOrUndefined), "postgres://jobs@db:5432/jobs")
      assert.strictEqual(settings.pgInserts, "checked")
      assert.deepStrictEqual(settings.chains.map((chain) => [chain.name, chain.chainId, chain.endpoints.length]), [["mainnet", 1, 2]])
      assert.deepStrictEqual(settings.chains[0].endpoints[0].rateLimit, { limit: 25, windowMillis: 1000 })
      assert.strictEqual(settings.devChain, false)
      assert.deepStrictEqual(settings.chainKinds, { "chain/sync-events": { timeoutMillis: 1_800_000, retries: 0 } })
      assert.deepStrictEqual(Object.keys(settings.authTokens), ["alice", "ops"])
      assert.strictEqual(Redacted.value(settings.authTokens.alice), "t1")
      assert.deepStrictEqual(settings.admins, ["ops"])
      assert.strictEqual(settings.tasks.maxWorkers, 8)
      assert.strictEqual(Duration.toMillis(Duration.fromInputUnsafe(settings.tasks.shutdownGracePeriod)), 5000)
    }))

  it.effect("a bad value fails with a message naming the variable", () =>
    Effect.gen(function*() {
      for (const [variable, value] of [
        ["CHAINJOBS_PORT", "80000"],
        ["CHAINJOBS_MAX_WORKERS", "none"],
        ["CHAINJOBS_MAX_WORKERS", "0"],
        ["CHAINJOBS_DATABASE_URL", "not a url"],
        ["CHAINJOBS_PG_INSERTS", "sometimes"],
        ["CHAINJOBS_PG_INSERTS", "Plain"],
        ["CHAINJOBS_SHUTDOWN_GRACE", "soon"],
        ["CHAINJOBS_CHAINS", '[{"name":"mainnet","endpoints":[]}]'],
        // a kind that is no chain kind, and a timeout that is no positive number of milliseconds
        ["CHAINJOBS_CHAIN_KINDS", '{"chain/sync-event":{"timeoutMillis":1000}}'],
        ["CHAINJOBS_CHAIN_KINDS", '{"chain/sync-events":{"timeoutMillis":0}}'],
        ["CHAINJOBS_WATCHERS", '[{"name":"deposits","chain":"dev"}]'],
        ["CHAINJOBS_WATCHERS", "not json"],
        ["CHAINJOBS_WATCH_POLL_INTERVAL", "often"],
        ["CHAINJOBS_BALANCE_REFRESH_EVERY", "sometimes"],
        ["CHAINJOBS_BALANCE_RECONCILE_EVERY", "-"],
        ["CHAINJOBS_LOG_LEVEL", "loud"]
      ]) {
        // CHAINJOBS_PG_INSERTS alone is refused for naming a PostgreSQL setting without a database: with one, only its
        // value can be refused
        const store = variable === "CHAINJOBS_PG_INSERTS" ? { CHAINJOBS_DATABASE_URL: "postgres://127.0.0.1:1/none" } : {}
        const exit = yield* loadFrom({ ...store, [variable]: value })
        assert.isTrue(Exit.isFailure(exit), `${variable}=${value} was accepted`)
        if (Exit.isFailure(exit)) {
          const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
          assert.strictEqual(error?._tag === "Fail" && error.error._tag, "ServerConfigError")
          assert.include(error?._tag === "Fail" ? error.error.message : "", variable)
        }
      }
    }))

  it.effect("overrides (from flags) win over the environment", () =>
    Effect.gen(function*() {
      const settings = yield* ServerConfig.ServerConfig.pipe(
        Effect.provide(ServerConfig.layerWith({ CHAINJOBS_PORT: "7070" })),
        Effect.provideService(
          ConfigProvider.ConfigProvider,
          ConfigProvider.fromEnv({ env: { CHAINJOBS_PORT: "9090", CHAINJOBS_HOST: "0.0.0.0" } })
        )
      )
      assert.strictEqual(settings.port, 7070)
      assert.strictEqual(settings.host, "0.0.0.0")
    }))
})

describe("log level", () => {
  it.effect.prop(
    "CHAINJOBS_LOG_LEVEL names one of Effect's levels in any case",
    { level: Schema.Literals(LogLevel.values), upper: Schema.Array(Schema.Boolean) },
    ({ level, upper }) =>
      Effect.gen(function*() {
        const written = Array.from(level, (char, index) => upper[index % Math.max(1, upper.length)] ? char.toUpperCase() : char.toLowerCase()).join("")
        const exit = yield* loadFrom({ CHAINJOBS_LOG_LEVEL: written })
        assert.isTrue(Exit.isSuccess(exit) && exit.value.logLevel === level, `${written} was not read as ${level}`)
      })
  )

  /** The messages the service logs while a task is submitted and run, with `logLevel` set. */
  const loggedAt = (logLevel: LogLevel.LogLevel) =>
    Effect.gen(function*() {
      const messages: Array<string> = []
      const capture = Logger.make(({ message }) => {
        messages.push(String(Array.isArray(message) ? message[0] : message))
      })
      yield* Effect.gen(function*() {
        const submitted = yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: { fromBlock: 1, toBlock: 2, delayMillis: 1 } })
        assert.strictEqual(submitted.body.status, "completed")
      }).pipe(Effect.provide(testServer({ logLevel })), Effect.provide(Logger.layer([capture])))
      return messages
    })

  it.live("the service logs at the level set and above: warn leaves the task log's info lines out", () =>
    Effect.gen(function*() {
      const info = yield* loggedAt("Info")
      assert.includeMembers(info, ["task submitted", "task completed"])
      const warn = yield* loggedAt("Warn")
      assert.notInclude(warn, "task submitted")
      assert.notInclude(warn, "task completed")
      // warnings still come through
      assert.include(warn, "chainjobs: tasks are kept in memory; they do not survive a restart")
    }), { timeout: 30_000 })
})

describe("chain settings", () => {
  it.effect("a chain's request timeout, head cache, breaker and endpoint headers reach its configuration", () =>
    Effect.gen(function*() {
      const exit = yield* loadFrom({
        CHAINJOBS_CHAINS: JSON.stringify([{
          name: "mainnet",
          chainId: 1,
          requestTimeoutMillis: 2500,
          headTtlMillis: 0,
          breaker: { failures: 2 },
          endpoints: [{ url: "https://a.example/rpc", headers: { "x-api-key": "k-1" } }, { url: "https://b.example/rpc" }]
        }, { name: "plain", chainId: 5, endpoints: [{ url: "https://c.example/rpc" }] }])
      })
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      const [mainnet, plain] = Server.chainConfigs(exit.value)
      const millis = (input: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(input))
      assert.strictEqual(millis(mainnet!.requestTimeout), 2500)
      assert.strictEqual(millis(mainnet!.headTtl), 0)
      assert.deepStrictEqual(
        { failures: mainnet!.breaker.failures, openDuration: millis(mainnet!.breaker.openDuration) },
        { failures: 2, openDuration: 5000 }
      )
      assert.deepStrictEqual(mainnet!.endpoints.map((endpoint) => endpoint.headers), [{ "x-api-key": "k-1" }, {}])
      // a chain that sets none keeps the defaults
      assert.strictEqual(millis(plain!.requestTimeout), 10_000)
      assert.strictEqual(millis(plain!.headTtl), 10_000)
      assert.strictEqual(plain!.breaker.failures, 5)
    }))
})
