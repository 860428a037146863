import { assert, layer } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as BalanceCache from "../src/BalanceCache.ts"
import { BalanceFront } from "../src/BalanceFront.ts"
import { WatchItem } from "../src/WatchItem.ts"
import { address, DevChain, node, sharedRuntime } from "./fixtures.ts"

const ether = 10n ** 18n

/** One step acting on the cache or behind it; `who` picks one of four accounts, `tx` one of three transactions. */
const Step = Schema.Struct({
  op: Schema.Literals(["read", "verify", "maxAge", "pendingIn", "pendingOut", "confirm", "fail", "refresh", "reconcile", "setBalance", "observe"]),
  who: Schema.Literals([0, 1, 2, 3]),
  tx: Schema.Literals([0, 1, 2]),
  amount: Schema.Literals([1, 2, 5])
})

const accounts = [address(4), address(5), address(6), address(7)]
let round = 0

layer(sharedRuntime(), { excludeTestServices: true, timeout: 120_000 })("BalanceCache's memory front", (it) => {
  it.effect.prop(
    "after any sequence of reads, pending changes, settlements and upkeep passes, a read from the front equals a read of the table",
    { steps: Schema.Array(Step).check(Schema.isMaxLength(14)) },
    ({ steps }) =>
      Effect.gen(function*() {
        const chain = yield* DevChain.DevChain
        // a front holding the four accounts and a cache without one (reading the table), on the same tables
        const front = yield* BalanceCache.make({ maxEntries: 4 })
        const table = yield* BalanceCache.make({ maxEntries: 0 })
        const transactions = [0, 1, 2].map((tx) => `0x${(++round * 10 + tx).toString(16).padStart(64, "0")}`)
        for (const step of steps) {
          const account = accounts[step.who]!
          const transaction = transactions[step.tx]!
          switch (step.op) {
            case "read":
              yield* front.read("dev", account, "native")
              break
            case "verify":
              yield* front.read("dev", account, "native", { verify: true })
              break
            case "maxAge":
              yield* front.read("dev", account, "native", { maxAgeMillis: 0 })
              break
            case "pendingIn":
            case "pendingOut":
              yield* front.addPending({
                chain: "dev",
                transaction,
                account,
                asset: "native",
                direction: step.op === "pendingIn" ? "in" : "out",
                amount: BigInt(step.amount) * ether
              })
              break
            case "confirm":
            case "fail":
              yield* front.settlePending("dev", transaction, step.op === "confirm" ? "confirmed" : "failed")
              break
            case "refresh":
              yield* front.refreshStale
              break
            case "reconcile":
              yield* front.reconcile
              break
            case "observe":
              // a watcher recorded a transfer from the account: its balance becomes stale
              yield* front.observe("dev", [
                new WatchItem({
                  watcher: "w",
                  chain: "dev",
                  kind: "native",
                  block: 1,
                  blockHash: "0x00",
                  transaction,
                  position: null,
                  from: account,
                  to: null,
                  amount: "1",
                  asset: null,
                  contract: null,
                  event: null,
                  args: null
                })
              ])
              break
            case "setBalance":
              yield* node(chain.url).setBalance(account, BigInt(step.amount) * ether)
              break
          }
          for (const each of accounts) {
            const fromFront = yield* front.read("dev", each, "native")
            const fromTable = yield* table.read("dev", each, "native")
            const seen = ({ amount, pendingIn, pendingOut, stale, checkedAt }: BalanceCache.Balance) => ({
              amount,
              pendingIn,
              pendingOut,
              stale,
              checkedAt
            })
            assert.deepStrictEqual(seen(fromFront), seen(fromTable), `${step.op} ${step.who}: ${each}`)
          }
        }
        for (const transaction of transactions) yield* front.settlePending("dev", transaction, "failed")
        return true
      }),
    { timeout: 120_000, arbitrary: { runs: 30 } }
  )

  it.effect("the front keeps at most maxEntries balances, evicting the least recently read, and a hit costs no query", () =>
    Effect.sync(() => {
      const front = new BalanceFront(3)
      const entry = (amount: bigint) => ({ amount, checkedAt: 1, stale: false, pendingIn: 0n, pendingOut: 0n })
      for (const [index, account] of ["a", "b", "c"].entries()) front.fill(front.version, "dev", account, "native", entry(BigInt(index)))
      assert.strictEqual(front.get("dev", "a", "native")?.amount, 0n) // a is now the most recent
      front.fill(front.version, "dev", "d", "native", entry(3n))
      assert.strictEqual(front.size, 3)
      assert.isUndefined(front.get("dev", "b", "native"))
      assert.deepStrictEqual(["a", "c", "d"].map((account) => front.get("dev", account, "native")?.amount), [0n, 2n, 3n])
      // a fill begun before a change is dropped
      const version = front.version
      front.markStale("dev", ["x"])
      front.fill(version, "dev", "e", "native", entry(4n))
      assert.isUndefined(front.get("dev", "e", "native"))
      front.markStale("dev", ["c"])
      assert.isTrue(front.get("dev", "c", "native")?.stale)
    }))
})
