/**
 * `BalanceFront` by itself, two things `BalanceFrontEntries.test.ts` leaves
 * open: a read makes a kept balance the most recently read, so the bound
 * evicts another one first; and the per-account asset index is per account
 * and chain — one account's balance dropped leaves another account's balance
 * of the same asset reachable by `markStale`.
 */
import { assert, describe, it } from "@effect/vitest"
import { BalanceFront, type FrontEntry } from "../src/BalanceFront.ts"

const entry = (amount: bigint): FrontEntry => ({ amount, checkedAt: 1, stale: false, pendingIn: 0n, pendingOut: 0n })

describe("BalanceFront owners and reads", () => {
  it("a read makes a kept balance the most recently read: the bound evicts the one not read", () => {
    const front = new BalanceFront(2)
    front.fill(front.version, "dev", "a", "native", entry(1n))
    front.fill(front.version, "dev", "b", "native", entry(2n))
    assert.strictEqual(front.get("dev", "a", "native")?.amount, 1n)
    front.fill(front.version, "dev", "c", "native", entry(3n))
    assert.isUndefined(front.get("dev", "b", "native"))
    assert.deepStrictEqual(["a", "c"].map((account) => front.get("dev", account, "native")?.amount), [1n, 3n])
  })

  it("dropping one account's balance of an asset leaves another account's (and another chain's) marked stale", () => {
    const front = new BalanceFront(10)
    front.fill(front.version, "dev", "a", "0xtoken", entry(1n))
    front.fill(front.version, "dev", "b", "0xtoken", entry(2n))
    front.fill(front.version, "dev2", "b", "0xtoken", entry(3n))
    front.drop("dev", "a", "0xtoken")
    front.markStale("dev", ["b"])
    front.markStale("dev2", ["b"])
    assert.isTrue(front.get("dev", "b", "0xtoken")?.stale)
    assert.isTrue(front.get("dev2", "b", "0xtoken")?.stale)
  })
})
