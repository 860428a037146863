/**
 * Address activity as data: each item's key, chain order (by block, a
 * transaction before the logs of its block, then by log index), whether an
 * item touches a set of addresses, and the grouping by address. The dev
 * chain's seed computes what a scan should find with these same functions,
 * so the scan tests cannot tell when one of them is wrong: these check them
 * against the rules written out.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as Activity from "../src/Activity.ts"

const address = (n: number) => `0x${n.toString(16).padStart(40, "0")}`
const hash = (n: number) => `0x${n.toString(16).padStart(64, "0")}`

const native = (blockNumber: number, tx: number, from: string, to: string | null) =>
  new Activity.Activity({ kind: "native", blockNumber, transactionHash: hash(tx), logIndex: null, from, to, value: "1", token: null })

const erc20 = (blockNumber: number, tx: number, logIndex: number, from: string, to: string) =>
  new Activity.Activity({ kind: "erc20", blockNumber, transactionHash: hash(tx), logIndex, from, to, value: "5", token: address(99) })

/** An item drawn from small numbers, so that blocks, log indexes and hashes collide often. */
const Item = Schema.Struct({
  block: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 })),
  tx: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4 })),
  logIndex: Schema.NullOr(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 })))
})

describe("Activity", () => {
  it("keys a transaction by its hash and a log by its hash and index", () => {
    assert.strictEqual(Activity.key(native(1, 7, address(1), address(2))), hash(7))
    assert.strictEqual(Activity.key(erc20(1, 7, 3, address(1), address(2))), `${hash(7)}:3`)
    assert.notStrictEqual(Activity.key(erc20(1, 7, 3, address(1), address(2))), Activity.key(erc20(1, 7, 4, address(1), address(2))))
  })

  it.prop("orders by block, a transaction before logs, then by log index, then by hash", { items: Schema.Array(Item) }, ({ items }) => {
    const activity = items.map(({ block, logIndex, tx }) =>
      logIndex === null ? native(block, tx, address(1), address(2)) : erc20(block, tx, logIndex, address(1), address(2))
    )
    const sorted = [...activity].sort(Activity.order)
    for (let index = 1; index < sorted.length; index++) {
      const [a, b] = [sorted[index - 1]!, sorted[index]!]
      const before = a.blockNumber < b.blockNumber ||
        (a.blockNumber === b.blockNumber && (a.logIndex ?? -1) < (b.logIndex ?? -1)) ||
        (a.blockNumber === b.blockNumber && a.logIndex === b.logIndex && a.transactionHash <= b.transactionHash)
      assert.isTrue(before, `${Activity.key(a)} in block ${a.blockNumber} sorted before ${Activity.key(b)} in block ${b.blockNumber}`)
    }
  })

  it("an item touches the addresses it is from or to; a contract creation only its sender", () => {
    const watched = new Set([address(1)])
    assert.isTrue(Activity.touches(native(1, 1, address(1), address(2)), watched))
    assert.isTrue(Activity.touches(native(1, 1, address(2), address(1)), watched))
    assert.isFalse(Activity.touches(native(1, 1, address(2), address(3)), watched))
    assert.isFalse(Activity.touches(native(1, 1, address(2), null), watched))
    assert.isTrue(Activity.touches(native(1, 1, address(1), null), watched))
  })

  it("groups items under each given address, lowercase: both ends of a transfer, a transfer to oneself once", () => {
    const [a, b, c] = [address(0xa), address(0xb), address(0xc)]
    const ab = erc20(1, 1, 0, a, b)
    const self = native(2, 2, a, a)
    const bc = native(3, 3, b, c)
    const creation = native(4, 4, c, null)
    const groups = Activity.byAddress([ab, self, bc, creation], [a.toUpperCase().replace("0X", "0x"), b, address(0xd)])
    assert.deepStrictEqual(Object.keys(groups).sort(), [a, b, address(0xd)].sort())
    assert.deepStrictEqual(groups[a]!.map(Activity.key), [ab, self].map(Activity.key))
    assert.deepStrictEqual(groups[b]!.map(Activity.key), [ab, bc].map(Activity.key))
    assert.deepStrictEqual(groups[address(0xd)], [])
  })
})
