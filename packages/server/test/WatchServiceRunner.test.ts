/**
 * `WatchService.layer` as one runner of a cluster builds it (`runner` set),
 * inside the test, over a supervisor in memory, a Hardhat chain and the
 * watch tables in SQLite: each declared watcher's loop is a task of the
 * supervisor (`tasks` placement, so that one runner of the cluster runs it),
 * and the balance cache keeps nothing in memory in front of the table, which
 * other runners write too: a read after another writer's change sees it.
 */
import { assert, layer } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Option } from "effect"
import { SqlClient } from "effect/sql"
import { Chains } from "@chainjobs/chain"
import { RunnerConfig } from "@chainjobs/cluster"
import { DevChain } from "@chainjobs/devchain"
import { Tasks, TaskStore } from "@chainjobs/tasks"
import { BalanceCache } from "@chainjobs/watch"
import * as Server from "../src/Server.ts"
import * as ServerConfig from "../src/ServerConfig.ts"
import * as WatchService from "../src/WatchService.ts"

const watched = DevChain.accounts[2]!.address.toLowerCase()

/** A runner's settings: its chain `dev` at `url`, one watcher on it, the watch tables in memory. */
const runnerSettings = (url: string): ServerConfig.ServerSettings => ({
  ...ServerConfig.defaults,
  dataDir: ":memory:",
  runner: Option.some(RunnerConfig.defaults),
  chains: [{ name: "dev", chainId: DevChain.chainId, endpoints: [{ url }] }],
  watchPollInterval: Duration.millis(200),
  watchers: [{ name: "runner-watch", chain: "dev", processor: "chainjobs.watch.record", accounts: [watched], confirmations: 1, startBlock: 1 }]
})

/** The watch path of a runner, built by the test itself (not shared before its tests: Stryker sees its mutants). */
const watchPath = (settings: ServerConfig.ServerSettings) =>
  WatchService.layer(settings).pipe(
    Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: 0 })),
    Layer.provide(TaskStore.layerMemory),
    Layer.provideMerge(Chains.layerMemory(Server.chainConfigs(settings))),
    Layer.provideMerge(WatchService.layerSql(settings))
  )

layer(DevChain.layer(), { excludeTestServices: true, timeout: 120_000 })("WatchService as a runner", (it) => {
  it.effect("a watcher's loop is a task of the supervisor, and a balance read after another writer's change sees it", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const built = yield* Layer.build(watchPath(runnerSettings(chain.url)))
      const tasks = Context.get(built, Tasks.Tasks)
      const cache = Context.get(built, BalanceCache.BalanceCache)
      const sql = Context.get(built, SqlClient.SqlClient)
      // The loop is declared as a task (a daemon) once the watchers are up.
      let loops = 0
      while (loops === 0) {
        loops = (yield* tasks.list({ kind: ["chainjobs.watch.loop"], limit: 10 })).items.length
        if (loops === 0) yield* Effect.sleep("10 millis")
      }
      assert.strictEqual(loops, 1, "one chainjobs.watch.loop task")

      // From the chain, then from the table (where a front in memory would keep it).
      const first = yield* cache.read("dev", watched, "native")
      assert.isTrue(first.amount > 0n, String(first.amount))
      assert.strictEqual((yield* cache.read("dev", watched, "native")).amount, first.amount)
      // Another runner's write to the shared table.
      yield* sql`UPDATE chainjobs_balances SET amount = ${"12345"}`
      const second = yield* cache.read("dev", watched, "native")
      assert.strictEqual(second.amount, 12345n)
    }).pipe(Effect.scoped), 60_000)
})
