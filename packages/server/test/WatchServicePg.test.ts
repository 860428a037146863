/**
 * The service's watch path with its tables on PostgreSQL (`databaseUrl` set):
 * a declared watcher processes the dev activity once, its items, cursor and
 * the cached balances are rows of the database, and reads and changes over
 * REST and RPC work as on SQLite. Skipped without `CHAINJOBS_TEST_PG_URL`.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Option, Redacted, Schedule, Scope } from "effect"
import { SqlClient } from "effect/sql"
import { DevChain } from "@chainjobs/devchain"
import { WatchRpcClient } from "@chainjobs/rpc"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { baseUrl, request, testServer } from "./http.ts"
import { freshDatabase } from "./freshDatabase.ts"
import * as ServerConfig from "../src/ServerConfig.ts"
import * as WatchService from "../src/WatchService.ts"
import { alice, ops, watchServer } from "./watchServer.ts"

const pgUrl = process.env.CHAINJOBS_TEST_PG_URL

/** The service on a fresh database, and a client of that database for reading its rows. */
const server = Layer.unwrap(Effect.gen(function*() {
  const url = yield* freshDatabase(pgUrl ?? "", "watch_service")
  return Layer.merge(
    watchServer({ databaseUrl: Option.some(Redacted.make(url)) }),
    SqlTaskStore.layerPgClient({ url: Redacted.make(url), maxConnections: 1 })
  )
})).pipe(Layer.orDie)

const rows = (statement: string) =>
  SqlClient.SqlClient.use((sql) => sql.unsafe<Record<string, unknown>>(statement)).pipe(Effect.orDie)

describe.skipIf(pgUrl === undefined)("WatchService on PostgreSQL", () => {
  it.effect("processes starting together on a fresh database take turns making the watch tables", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase(pgUrl ?? "", "watch_tables")
      const settings = { ...ServerConfig.defaults, databaseUrl: Option.some(Redacted.make(url)) }
      // four processes' worth of connections, each making the tables at once
      yield* Effect.all(
        Array.from({ length: 4 }, () => Effect.scoped(Layer.build(WatchService.layerSql(settings)))),
        { concurrency: "unbounded" }
      )
      const tables = yield* rows(`SELECT tablename FROM pg_tables WHERE tablename LIKE 'chainjobs_%' ORDER BY tablename`).pipe(
        Effect.provide(SqlTaskStore.layerPgClient({ url: Redacted.make(url), maxConnections: 1 }))
      )
      assert.includeMembers(tables.map((table) => table.tablename), ["chainjobs_balances", "chainjobs_watch_items", "chainjobs_watchers"])
    }).pipe(Effect.scoped), 60_000)

  it.live("a shutdown while an upkeep task waits on the watch tables drains the task before it closes their pool", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase(pgUrl ?? "", "watch_shutdown")
      const database = yield* Layer.build(SqlTaskStore.layerPgClient({ url: Redacted.make(url), maxConnections: 2 }))
      const service = yield* Scope.make()
      yield* Layer.buildWithScope(
        testServer({
          databaseUrl: Option.some(Redacted.make(url)),
          // a chain (never asked) makes the service run the watch path; the refresh of stale balances runs often
          chains: [{ name: "evm", chainId: 31337, endpoints: [{ url: "http://127.0.0.1:9" }] }],
          balanceRefreshEvery: Duration.millis(50)
        }),
        service
      )
      // Another session holds the balance table: the next refresh task's query waits, holding a pool connection.
      const locked = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const holder = yield* SqlClient.SqlClient.use((sql) =>
        sql.withTransaction(Effect.gen(function*() {
          yield* sql`LOCK TABLE chainjobs_balances IN ACCESS EXCLUSIVE MODE`
          yield* Deferred.succeed(locked, undefined)
          yield* Deferred.await(release)
        }))
      ).pipe(Effect.orDie, Effect.provide(database), Effect.forkChild)
      yield* Deferred.await(locked)
      // the tasks themselves are rows of the same database (the task store on PostgreSQL)
      const [stored] = yield* rows(`SELECT count(*)::int AS n FROM chainjobs_tasks`).pipe(Effect.provide(database))
      assert.isAbove(Number(stored?.n), 0)
      const waiting = rows(
        `SELECT state, wait_event_type, query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`
      ).pipe(Effect.provide(database))
      const seen = yield* waiting.pipe(
        Effect.flatMap((sessions) =>
          sessions.some((s) => s.wait_event_type === "Lock" && String(s.query).includes("stale"))
            ? Effect.succeed(sessions)
            : Effect.fail(sessions)
        ),
        Effect.retry(Schedule.spaced("100 millis").pipe(Schedule.upTo({ duration: Duration.seconds(30) }))),
        Effect.result
      )
      if (seen._tag === "Failure") {
        yield* Deferred.succeed(release, undefined)
        assert.fail(`no refresh query waited on the balance table within 30 s; sessions: ${JSON.stringify(seen.failure)}`)
      }
      // The supervisor interrupts the waiting task after its grace period (1 s); the pool closes after that.
      const closing = yield* Effect.forkChild(Scope.close(service, Exit.void))
      const closed = yield* Fiber.await(closing).pipe(Effect.timeoutOption("20 seconds"))
      yield* Deferred.succeed(release, undefined)
      yield* Fiber.join(holder)
      yield* Fiber.await(closing)
      assert.isTrue(
        Option.isSome(closed),
        "the service's shutdown did not end within 20 s while a refresh task waited on the balance table: " +
          "the watch tables' pool was closing (it waits for every connection lent) before the supervisor stopped the task holding one"
      )
    }).pipe(Effect.scoped), 90_000)

  layer(server, { excludeTestServices: true, timeout: "120 seconds" })("databaseUrl set", (it) => {
    it.effect("the declared watcher processes the dev activity once, its items and cursor rows of PostgreSQL", () =>
      Effect.gen(function*() {
        const processed = yield* request("GET", "/api/watch/watchers/dev-activity/items", { token: alice }).pipe(
          Effect.map((reply) => (reply.body.items as Array<any>).filter((item) => item.status === "processed")),
          Effect.flatMap((items) => items.length >= 5 ? Effect.succeed(items) : Effect.fail("not yet" as const)),
          Effect.retry(Schedule.spaced("200 millis"))
        )
        const stored = yield* rows(`SELECT item_id, status FROM chainjobs_watch_items WHERE watcher = 'dev-activity' AND status = 'processed'`)
        const ids = stored.map((row) => row.item_id)
        assert.strictEqual(new Set(ids).size, ids.length)
        assert.includeMembers(ids, processed.map((item) => item.id))
        const [watcher] = yield* rows(`SELECT name FROM chainjobs_watchers`)
        assert.strictEqual(watcher?.name, "dev-activity")
      }))

    it.effect("balances are cached in PostgreSQL and read, listed and verified over REST and RPC; admins alone change watchers", () =>
      Effect.gen(function*() {
        const account = DevChain.accounts[15]!.address.toLowerCase()
        const first = yield* request("GET", `/api/watch/balances/dev/${account}/native`, { token: alice })
        assert.isTrue(first.body.fromChain)
        const [row] = yield* rows(`SELECT amount FROM chainjobs_balances WHERE account = '${account}'`)
        assert.strictEqual(row?.amount, first.body.amount)
        const base = yield* baseUrl
        const viaRpc = yield* Effect.gen(function*() {
          const watch = yield* WatchRpcClient.WatchRpcClient
          const cached = yield* watch.balance("dev", account, "native")
          const page = yield* watch.balances({ chain: "dev", account })
          const refused = yield* Effect.flip(watch.pause("dev-activity"))
          return { cached, page, refused }
        }).pipe(Effect.provide(WatchRpcClient.layerHttp({ url: `${base}/rpc/watch`, token: alice })))
        assert.isFalse(viaRpc.cached.fromChain)
        assert.strictEqual(viaRpc.cached.amount.toString(), first.body.amount)
        assert.deepStrictEqual(viaRpc.page.balances.map((balance) => balance.account), [account])
        assert.strictEqual(viaRpc.refused._tag, "WatchForbidden")
        const added = yield* request("POST", "/api/watch/watchers", {
          token: ops,
          body: { name: "pg-extra", chain: "dev", processor: "chainjobs.watch.record", accounts: [account], confirmations: 1 }
        })
        assert.strictEqual(added.status, 201, added.text)
        assert.deepStrictEqual((yield* rows(`SELECT name FROM chainjobs_watchers ORDER BY name`)).map((r) => r.name), ["dev-activity", "pg-extra"])
        assert.strictEqual((yield* request("DELETE", "/api/watch/watchers/pg-extra", { token: ops })).status, 204)
      }))
  })
})
