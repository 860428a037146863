/**
 * `BalanceFront` by itself: its read order, its per-account asset index (which
 * `markStale` walks), its version and the order of amounts read at different
 * times. `BalanceFront.test.ts` checks the front against the table through
 * the cache; these pin the parts a cache-level comparison can miss, such as an
 * asset that falls out of the index while its balance is still kept.
 */
import { assert, describe, it } from "@effect/vitest"
import { BalanceFront, type FrontEntry } from "../src/BalanceFront.ts"

const entry = (amount: bigint, checkedAt = 1): FrontEntry => ({
  amount,
  checkedAt,
  stale: false,
  pendingIn: 0n,
  pendingOut: 0n
})

describe("BalanceFront", () => {
  it("a read that misses keeps nothing", () => {
    const front = new BalanceFront(2)
    assert.isUndefined(front.get("dev", "a", "native"))
    assert.strictEqual(front.size, 0)
    front.fill(front.version, "dev", "b", "native", entry(1n))
    front.fill(front.version, "dev", "c", "native", entry(2n))
    // a miss in a full front must not push a kept balance out
    assert.isUndefined(front.get("dev", "a", "native"))
    assert.strictEqual(front.size, 2)
    assert.deepStrictEqual(["b", "c"].map((account) => front.get("dev", account, "native")?.amount), [1n, 2n])
  })

  it("filling a kept balance again makes it the most recently read", () => {
    const front = new BalanceFront(2)
    front.fill(front.version, "dev", "a", "native", entry(1n))
    front.fill(front.version, "dev", "b", "native", entry(2n))
    front.fill(front.version, "dev", "a", "native", entry(3n))
    front.fill(front.version, "dev", "c", "native", entry(4n))
    // b was the least recently read: a's second fill moved a after it
    assert.isUndefined(front.get("dev", "b", "native"))
    assert.deepStrictEqual(["a", "c"].map((account) => front.get("dev", account, "native")?.amount), [3n, 4n])
  })

  it("marking an account stale reaches every kept asset of it", () => {
    const front = new BalanceFront(10)
    for (const asset of ["native", "0xtoken", "0xother"]) front.fill(front.version, "dev", "a", asset, entry(1n))
    front.fill(front.version, "dev", "b", "native", entry(1n))
    front.markStale("dev", ["a"])
    assert.deepStrictEqual(
      ["native", "0xtoken", "0xother"].map((asset) => front.get("dev", "a", asset)?.stale),
      [true, true, true]
    )
    assert.isFalse(front.get("dev", "b", "native")?.stale)
  })

  it("an account's other assets stay marked after one of its balances is dropped or evicted", () => {
    const front = new BalanceFront(3)
    front.fill(front.version, "dev", "a", "native", entry(1n))
    front.fill(front.version, "dev", "a", "0xtoken", entry(1n))
    front.fill(front.version, "dev", "a", "0xother", entry(1n))
    front.drop("dev", "a", "native")
    front.markStale("dev", ["a"])
    assert.deepStrictEqual(["0xtoken", "0xother"].map((asset) => front.get("dev", "a", asset)?.stale), [true, true])
    // evicted by the bound: 0xtoken is now the least recently read
    front.fill(front.version, "dev", "b", "native", entry(1n))
    front.fill(front.version, "dev", "c", "native", entry(1n))
    assert.isUndefined(front.get("dev", "a", "0xtoken"))
    front.setAmount("dev", "a", "0xother", 5n, 2)
    assert.isFalse(front.get("dev", "a", "0xother")?.stale)
    front.markStale("dev", ["a"])
    assert.isTrue(front.get("dev", "a", "0xother")?.stale)
  })

  it("every change moves the version to one never seen before, so an older fill is dropped", () => {
    const front = new BalanceFront(4)
    front.fill(front.version, "dev", "a", "native", entry(1n))
    const seen = new Set([front.version])
    const begun = front.version
    front.setAmount("dev", "a", "native", 2n, 2)
    assert.isFalse(seen.has(front.version))
    seen.add(front.version)
    front.markStale("dev", ["a"])
    assert.isFalse(seen.has(front.version))
    seen.add(front.version)
    front.drop("dev", "a", "native")
    assert.isFalse(seen.has(front.version))
    front.fill(begun, "dev", "b", "native", entry(1n))
    assert.isUndefined(front.get("dev", "b", "native"))
    assert.strictEqual(front.size, 0)
  })

  it("a new amount replaces a kept one read at the same time or earlier, never a later one", () => {
    const front = new BalanceFront(4)
    front.fill(front.version, "dev", "a", "native", entry(1n, 10))
    front.setAmount("dev", "a", "native", 2n, 9)
    assert.deepStrictEqual(front.get("dev", "a", "native"), entry(1n, 10))
    front.setAmount("dev", "a", "native", 3n, 10)
    assert.deepStrictEqual(front.get("dev", "a", "native"), entry(3n, 10))
    front.markStale("dev", ["a"])
    front.setAmount("dev", "a", "native", 4n, 11)
    assert.deepStrictEqual(front.get("dev", "a", "native"), entry(4n, 11))
    // an amount for a balance not kept is not kept
    front.setAmount("dev", "b", "native", 5n, 11)
    assert.isUndefined(front.get("dev", "b", "native"))
  })
})
