/**
 * Two runners on one watcher's tables (two `Watchers` over the same database,
 * as two processes have), each step interleaved by hand: the first runner is
 * held at a chosen point while the other records blocks, then let go.
 *
 * - A runner whose ingest finds the cursor moved by the other (the range it
 *   scanned is already recorded) stops its tick there: it scans no further
 *   range from a cursor it does not hold, and every item is recorded once.
 * - A set the other runner writes while this one scans a range from the old
 *   sets undoes that range only if it starts within it (at its last block
 *   too): the range is then not recorded, the tick ends, and the next scans
 *   it again with the new set; a set from a later block leaves it recorded.
 * - `setAccounts` that passed its check of the cursor, when the other runner
 *   records the block before the set is written, refuses: the block is
 *   already recorded, and the watcher's sets stay as they were. This needs
 *   two connections (the first runner holds its transaction open while the
 *   other writes): PostgreSQL only, skipped without `CHAINJOBS_TEST_PG_URL`.
 *
 * The chain is the real dev chain; the first runner of the scan cases scans
 * through the stepping adapter (its hook holds the scan), that of the last
 * runs its statements through a `Statement.CurrentTransformer` that holds the
 * set's write.
 */
import { assert, layer } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { Statement } from "effect/sql"
import * as Watchers from "../src/Watchers.ts"
import * as WatchStore from "../src/WatchStore.ts"
import { address, DevChain, node, pgTestUrl, pgWatchTables, reasonOf, Record, sharedRuntime } from "./fixtures.ts"
import { steppingWatchers } from "./steppingAdapter.ts"

/** A point the first runner reaches and waits at until the test lets it go. */
const holdPoint = Effect.gen(function*() {
  const reached = yield* Deferred.make<void>()
  const proceed = yield* Deferred.make<void>()
  return {
    /** Run by the held runner: says it is there, then waits. */
    hold: Effect.andThen(Deferred.succeed(reached, undefined), Deferred.await(proceed)),
    /** Run by the test: waits for the runner to be held, runs `meanwhile`, then lets the runner go. */
    meanwhile: <A, E, R>(meanwhile: Effect.Effect<A, E, R>) =>
      Effect.andThen(Deferred.await(reached), Effect.ensuring(meanwhile, Deferred.succeed(proceed, undefined)))
  }
})

layer(sharedRuntime(pgTestUrl === undefined ? {} : { watchTables: pgWatchTables }), { excludeTestServices: true, timeout: 120_000 })(
  "Watchers, two runners on one watcher",
  (it) => {
    it.effect("a runner whose ingest finds the cursor moved by the other stops its tick: no further range scanned, every item recorded once", () =>
      Effect.gen(function*() {
        const act = node((yield* DevChain.DevChain).url)
        const { calls, fault, watchers: first } = yield* steppingWatchers({ maxRange: 2 })
        const other = yield* Watchers.make()
        const watched = address(14)
        const start = (yield* act.head) + 1
        yield* first.add({ name: "raced", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0, startBlock: start, paused: true })
        for (let round = 0; round < 4; round++) yield* act.sendRaw(yield* act.sign(15, watched, 1n))
        const head = yield* act.head
        assert.strictEqual(head, start + 3)

        // the first runner is held before it scans its first range (of two); the other records all four blocks meanwhile
        const point = yield* holdPoint
        fault.beforeScan = () => Effect.andThen(Effect.sync(() => void (fault.beforeScan = undefined)), point.hold)
        const polled = yield* Effect.forkChild(first.poll("raced"))
        yield* point.meanwhile(other.poll("raced"))
        yield* Fiber.join(polled)

        assert.deepStrictEqual(calls.map((call) => [call.from, call.to]), [[start, start + 1]], "the first runner scanned on past the range it lost")
        assert.strictEqual((yield* first.get("raced")).confirmedBlock, head)
        const items = yield* first.items("raced")
        assert.strictEqual(items.length, 4)
        assert.strictEqual(new Set(items.map((item) => item.id)).size, 4)
        yield* first.remove("raced")
      }).pipe(Effect.scoped), 60_000)

    it.effect("an account set written by the other runner while this one scans the range from the old sets: the joining account's items of that range are recorded", () =>
      Effect.gen(function*() {
        const act = node((yield* DevChain.DevChain).url)
        const { fault, watchers: first } = yield* steppingWatchers({ maxRange: 2 })
        const other = yield* Watchers.make()
        const [watched, joining] = [address(12), address(13)]
        const start = (yield* act.head) + 1
        yield* first.add({ name: "joined", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0, startBlock: start, paused: true })
        yield* act.sendRaw(yield* act.sign(11, watched, 1n))
        yield* act.sendRaw(yield* act.sign(11, joining, 1n))
        assert.strictEqual(yield* act.head, start + 1)

        // the first runner has read the sets and is held before its scan; the other sets the accounts from `start`
        const point = yield* holdPoint
        fault.beforeScan = () => Effect.andThen(Effect.sync(() => void (fault.beforeScan = undefined)), point.hold)
        const polled = yield* Effect.forkChild(first.poll("joined"))
        const set = yield* point.meanwhile(Effect.exit(other.setAccounts("joined", [watched, joining])))
        yield* Fiber.join(polled)
        yield* first.poll("joined")

        // the set took effect where it said: the range scanned from the old sets is not recorded, it is scanned again
        assert.deepStrictEqual(set, Exit.succeed(start))
        const items = yield* first.items("joined")
        assert.deepStrictEqual(items.map((row) => row.item.block), [start, start + 1], `the set took effect at block ${start}: both transfers recorded`)
        yield* first.remove("joined")
      }).pipe(Effect.scoped), 60_000)

    it.effect("a set from a block after the range being scanned leaves that range recorded; one from its last block undoes it, and the tick ends there", () =>
      Effect.gen(function*() {
        const act = node((yield* DevChain.DevChain).url)
        const { calls, fault, watchers: first } = yield* steppingWatchers({ maxRange: 2 })
        const other = yield* Watchers.make()
        const [watched, joining] = [address(6), address(7)]
        // a watcher of `watched` over four new blocks (transfers to watched, joining, joining, none), its first range
        // held before its scan while the other runner sets [watched, joining] from block `start + offset`
        const race = (name: string, offset: number) =>
          Effect.gen(function*() {
            const start = (yield* act.head) + 1
            yield* first.add({ name, chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0, startBlock: start, paused: true })
            for (const to of [watched, joining, joining]) yield* act.sendRaw(yield* act.sign(8, to, 1n))
            yield* act.mine(1)
            calls.length = 0
            const point = yield* holdPoint
            fault.beforeScan = () => Effect.andThen(Effect.sync(() => void (fault.beforeScan = undefined)), point.hold)
            const polled = yield* Effect.forkChild(first.poll(name))
            assert.strictEqual(yield* point.meanwhile(other.setAccounts(name, [watched, joining], { fromBlock: start + offset })), start + offset)
            yield* Fiber.join(polled)
            const scanned = calls.map((call) => [call.from - start, call.to - start])
            return { cursor: (yield* first.get(name)).confirmedBlock - start, scanned, start }
          })
        const blocksOf = (name: string, start: number) => Effect.map(first.items(name), (items) => items.map((row) => row.item.block - start))

        // from the second range on: the first range (its sets unchanged) is recorded, the second scanned with the new set
        const beyond = yield* race("beyond", 2)
        assert.deepStrictEqual([beyond.scanned, beyond.cursor], [[[0, 1], [2, 3]], 3])
        assert.deepStrictEqual(yield* blocksOf("beyond", beyond.start), [0, 2])
        // from the first range's last block: the range is not recorded and the tick scans nothing more; the next records it
        const last = yield* race("last", 1)
        assert.deepStrictEqual([last.scanned, last.cursor], [[[0, 1]], -1])
        yield* first.poll("last")
        assert.deepStrictEqual(yield* blocksOf("last", last.start), [0, 1, 2])
      }).pipe(Effect.scoped), 60_000)

    it.effect.skipIf(pgTestUrl === undefined)(
      "setAccounts refuses a block the other runner recorded between its check and its write; the sets stay as they were",
      () =>
        Effect.gen(function*() {
          const act = node((yield* DevChain.DevChain).url)
          const point = yield* holdPoint
          let armed = false
          // holds the first runner's set write at its check of the cursor (the write's transaction open), once armed
          const holdTheWrite: Statement.Transformer = (statement) =>
            armed && statement.compile()[0].includes("SET confirmed_block = confirmed_block")
              ? Effect.as(Effect.andThen(Effect.sync(() => void (armed = false)), point.hold), statement)
              : Effect.succeed(statement)
          const first = yield* Watchers.make().pipe(Effect.provideService(Statement.CurrentTransformer, holdTheWrite))
          const other = yield* Watchers.make()
          const [watched, joining] = [address(16), address(18)]
          const start = (yield* act.head) + 1
          yield* first.add({ name: "moved", chain: "dev", processor: Record.name, accounts: [watched], confirmations: 0, startBlock: start, paused: true })
          yield* act.sendRaw(yield* act.sign(17, watched, 1n))
          assert.strictEqual(yield* act.head, start)

          // the set is to start at the block after the cursor (start); the other runner records that block meanwhile
          armed = true
          const set = yield* Effect.forkChild(Effect.exit(first.setAccounts("moved", [watched, joining])))
          yield* point.meanwhile(other.poll("moved"))
          const exit = yield* Fiber.join(set)

          assert.deepStrictEqual(reasonOf(exit), ["Invalid", `watcher "moved": block ${start} is already recorded`])
          assert.deepStrictEqual(yield* WatchStore.accountSets("moved"), [{ fromBlock: start, accounts: [watched] }])
          assert.strictEqual((yield* first.get("moved")).confirmedBlock, start)
          yield* first.remove("moved")
        }).pipe(Effect.scoped),
      60_000
    )
  }
)
