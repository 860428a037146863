/**
 * `internal/trie.ts`' ordered root worked out by hand for two values: the
 * keys RLP(0) = 0x80 and RLP(1) = 0x01 part at their first nibble, so the
 * root is a branch holding two leaves (their remaining nibble hex-prefixed
 * as a leaf's: 0x30 and 0x31), each embedded when its RLP is under 32 bytes
 * and hashed otherwise. The values' sizes put the leaves on both sides of
 * that bound (a leaf of a value of n bytes, n ≥ 2 and under 56, is n + 3 bytes).
 */
import { assert, describe, it } from "@effect/vitest"
import { type Hex, keccak256, toRlp } from "viem"
import { orderedRoot } from "../src/internal/trie.ts"

/** A value of `bytes` bytes. */
const ofSize = (bytes: number): Hex => `0x${"5a".repeat(bytes)}`

/** The root of a branch with the leaves of values 0 (under nibble 8) and 1 (under nibble 0), each embedded or hashed as told. */
const branchRoot = (values: readonly [Hex, Hex], embedded: readonly [boolean, boolean]) => {
  const leaves = [["0x30", values[0]], ["0x31", values[1]]] as const
  const held = leaves.map((leaf, index) => embedded[index] ? leaf : keccak256(toRlp(leaf)))
  const slots: Array<Hex | ReadonlyArray<Hex>> = Array.from({ length: 17 }, () => "0x")
  slots[8] = held[0]!
  slots[0] = held[1]!
  return keccak256(toRlp(slots as Parameters<typeof toRlp>[0]))
}

describe("the ordered trie's root", () => {
  it("embeds a child whose RLP is under 32 bytes and hashes one of 32 bytes or more", () => {
    const cases: ReadonlyArray<readonly [readonly [Hex, Hex], readonly [boolean, boolean]]> = [
      [["0x01", "0x02"], [true, true]], // leaves of 3 bytes
      [[ofSize(7), ofSize(8)], [true, true]], // 10 and 11 bytes
      [[ofSize(28), ofSize(29)], [true, false]], // 31 bytes, embedded; 32 bytes, hashed
      [[ofSize(29), ofSize(40)], [false, false]] // 32 and 43 bytes
    ]
    for (const [values, embedded] of cases) {
      assert.strictEqual(orderedRoot(values), branchRoot(values, embedded), `${values.map((value) => (value.length - 2) / 2)} bytes`)
    }
  })

  it("an empty trie's root is the hash of the RLP of nothing", () => {
    assert.strictEqual(orderedRoot([]), "0x56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421")
  })
})
