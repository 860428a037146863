import { AddressScan, Chains } from "@chainjobs/chain"
import { DevSeed } from "@chainjobs/devchain"
import { assert, layer } from "@effect/vitest"
import { Effect, type Layer } from "effect"
import type { SqlClient } from "effect/sql"
import { Tasks } from "@chainjobs/tasks"
import * as Watchers from "../src/Watchers.ts"
import * as WatchItem from "../src/WatchItem.ts"
import {
  address,
  DevChain,
  eventually,
  node,
  pgTestUrl,
  pgWatchTables,
  processedCounts,
  Record,
  Refuse,
  runtime,
  tempDirectory
} from "./fixtures.ts"

/** A fresh watch runtime on the file's dev chain, in a fresh directory (and a fresh PostgreSQL schema when asked), for one test. */
const fresh = <A, E, R>(body: Effect.Effect<A, E, R>, watchTables?: Layer.Layer<SqlClient.SqlClient>) =>
  Effect.gen(function*() {
    const chain = yield* DevChain.DevChain
    const directory = yield* tempDirectory
    return yield* body.pipe(Effect.provide(runtime(directory, chain.url, { watchTables }), { local: true }))
  }).pipe(Effect.scoped)

/** Waits until the watcher has recorded and finished every item up to `block`. */
const caughtUp = (name: string, block: number) =>
  eventually(Effect.gen(function*() {
    const watchers = yield* Watchers.Watchers
    const lag = yield* watchers.lag(name)
    return lag.confirmed >= block && lag.processed >= block
  }), `watcher ${name} recorded and processed every item up to block ${block}`)

/** Seeded and live activity on the chain, two watchers (accounts; a token's decoded events), checked against an independent scan. */
const exactlyOnce = Effect.gen(function*() {
  const chain = yield* DevChain.DevChain
  const seeded = yield* DevSeed.seed({ rounds: 12, participants: 4 })
  const watchers = yield* Watchers.Watchers
  const watched = seeded.participants.slice(0, 2)
  yield* watchers.add({
    name: "accounts",
    chain: "dev",
    processor: Record.name,
    accounts: watched,
    confirmations: 2,
    startBlock: seeded.fromBlock
  })
  yield* watchers.add({
    name: "token",
    chain: "dev",
    processor: Record.name,
    contracts: [{ address: seeded.token, events: ["Transfer(address indexed from, address indexed to, uint256 value)"] }],
    confirmations: 2,
    startBlock: seeded.fromBlock
  })
  // live activity while the watchers run: transfers to and from the watched accounts, and some that are not theirs
  const act = node(chain.url)
  for (let round = 0; round < 6; round++) {
    yield* act.send(round % 4, address((round + 1) % 4), BigInt(round + 1))
    yield* act.send(7, address(8), 1n)
    if (round % 2 === 0) yield* act.mine(1)
  }
  yield* act.mine(2)
  const last = (yield* act.head) - 2
  yield* caughtUp("accounts", last)
  yield* caughtUp("token", last)

  const client = yield* (yield* Chains.Chains).client("dev")
  const independent = yield* AddressScan.scanRange(client, watched, seeded.fromBlock, last)
  const expected = independent.map((item) =>
    WatchItem.id({ chain: "dev", transaction: item.transactionHash, position: item.logIndex })
  ).sort()
  const counts = yield* processedCounts("accounts")
  assert.deepStrictEqual(Array.from(counts.keys()).sort(), expected)
  assert.isTrue(Array.from(counts.values()).every((count) => count === 1))
  assert.isTrue(expected.length > 12)
  const audit = yield* watchers.items("accounts")
  assert.deepStrictEqual(audit.map((row) => row.status).filter((status) => status !== "processed"), [])

  // the token watcher decodes every Transfer of the token: the seed's token transfers
  const tokenTransfers = seeded.activity.filter((item) => item.kind === "erc20").map((item) =>
    WatchItem.id({ chain: "dev", transaction: item.transactionHash, position: item.logIndex })
  ).sort()
  const tokenCounts = yield* processedCounts("token")
  assert.deepStrictEqual(Array.from(tokenCounts.keys()).sort(), tokenTransfers)
  assert.isTrue(Array.from(tokenCounts.values()).every((count) => count === 1))
  const decoded = (yield* watchers.items("token")).map((row) => row.item)
  assert.isTrue(decoded.every((item) => item.kind === "event" && item.event === "Transfer" && typeof item.args?.value === "string"))
})

layer(DevChain.layer(), { excludeTestServices: true, timeout: 120_000 })("Watchers", (it) => {
  it.effect("every item of seeded and live activity is processed exactly once, as an independent scan finds it", () =>
    fresh(exactlyOnce), 60_000)

  it.effect.skipIf(pgTestUrl === undefined)("the same with the watch tables on PostgreSQL", () =>
    fresh(exactlyOnce, pgWatchTables), 60_000)

  it.effect("a processing failure is the item's recorded outcome, and the item is not submitted again", () =>
    fresh(Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const watchers = yield* Watchers.Watchers
      const watched = address(9)
      yield* watchers.add({ name: "refusing", chain: "dev", processor: Refuse.name, accounts: [watched], confirmations: 0 })
      const hash = yield* act.sendRaw(yield* act.sign(10, watched, 1n))
      yield* caughtUp("refusing", yield* act.head)
      yield* watchers.poll("refusing")
      const rows = yield* watchers.items("refusing")
      assert.deepStrictEqual(rows.map((row) => [row.id, row.status, row.error]), [[`dev:${hash}`, "failed", `refused dev:${hash}`]])
      const tasks = yield* Tasks.Tasks
      const page = yield* tasks.list({ kind: [Refuse.name] })
      assert.strictEqual(page.items.length, 1)
    })), 60_000)
})
