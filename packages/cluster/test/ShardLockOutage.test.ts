/**
 * A runner whose shard-lock storage fails for a while (its database out of
 * reach: every runner-storage call refused, the fault injected here) gives its
 * shards up ("Shard lock storage is unhealthy": forced release) and, once the
 * storage answers again, takes its share back and runs its shards' tasks: it is
 * never left holding nothing, nor another runner everything. Seen once on
 * main in a 3-runner benchmark burst that hung for more than 8 minutes after
 * "Shard lock storage is unhealthy", one runner then holding all 30 shards and
 * logging "No healthy runners available". Runners of `Runner.layer` in the
 * test process (`InProcessCluster.ts`) on PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ClusterError, type RunnerStorage } from "effect/cluster"
import { Gated, idOn, makeCluster, settled } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/** A runner storage every call of which fails while `state.down` says so, as an unreachable database makes it. */
const outage = () => {
  const state = { down: false, refused: 0 }
  const refuse = <A, R>(call: Effect.Effect<A, ClusterError.PersistenceError, R>) =>
    Effect.suspend(() => {
      if (!state.down) return call
      state.refused++
      return Effect.fail(new ClusterError.PersistenceError({ cause: new Error("the runner storage is down (the test's fault)") }))
    })
  const wrap = (storage: RunnerStorage.RunnerStorage["Service"]): RunnerStorage.RunnerStorage["Service"] => ({
    ...storage,
    register: (runner, healthy) => refuse(storage.register(runner, healthy)),
    unregister: (address) => refuse(storage.unregister(address)),
    getRunners: refuse(storage.getRunners),
    setRunnerHealth: (address, healthy) => refuse(storage.setRunnerHealth(address, healthy)),
    acquire: (address, shardIds) => refuse(storage.acquire(address, shardIds)),
    refresh: (address, shardIds) => refuse(storage.refresh(address, shardIds)),
    release: (address, shardId) => refuse(storage.release(address, shardId)),
    releaseAll: (address) => refuse(storage.releaseAll(address))
  })
  return { state, wrap }
}

describe.skipIf(pgTestUrl === undefined)("a runner whose shard-lock storage fails for a while", () => {
  it.live("gives its shards up, then takes its share back and runs their tasks once the storage answers again", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a")
      yield* settled([a])
      const fault = outage()
      const b = yield* cluster.start("b", { runnerStorageFault: fault.wrap })
      const c = yield* cluster.start("c")
      yield* settled([a, b, c])

      // Down for 12 s: longer than the lock expiry (10 s), so b's row lapses too.
      fault.state.down = true
      const downAt = Date.now()
      let heldByB = -1
      for (; Date.now() - downAt < 12_000; yield* Effect.sleep("200 millis")) heldByB = yield* b.status.shardsHeld
      assert.strictEqual(heldByB, 0, "b gave its shards up while its lock storage failed")
      assert.isAbove(fault.state.refused, 0)
      fault.state.down = false

      // Back: all three hold shards again, every shard held.
      yield* settled([a, b, c])
      // and a task of one of b's shards runs there
      const id = yield* idOn(b, "after-outage")
      const handle = yield* a.tasks.submit(Gated, { gate: id }, { id })
      yield* cluster.open(id)
      const info = yield* a.tasks.awaitInfo(handle.id).pipe(Effect.timeout("20 seconds"))
      assert.deepInclude(info, { status: "completed", result: "b" })
    }).pipe(Effect.scoped), { timeout: 120_000 })
})
