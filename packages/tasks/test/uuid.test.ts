import { assert, describe, it } from "@effect/vitest"
import { uuidv7 } from "../src/internal/uuid.ts"

describe("uuidv7", () => {
  it("makes well-formed version 7 ids that sort in creation order, even past 4096 in one millisecond", () => {
    // Later than any id made before in this process (the module's clock never goes back, and other test files may
    // have made ids at the wall clock's time before this one, when files share a worker).
    const base = Math.max(Date.now(), 1_800_000_000_000) + 500
    const ids = Array.from({ length: 10_000 }, (_, i) => uuidv7(base + Math.floor(i / 5_000)))
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    assert.deepStrictEqual([...ids].sort(), ids)
    assert.strictEqual(new Set(ids).size, ids.length)
    const millisHex = base.toString(16).padStart(12, "0")
    assert.strictEqual(ids[0].slice(0, 13), `${millisHex.slice(0, 8)}-${millisHex.slice(8)}`)
  })

  it("never goes backwards when the clock does", () => {
    const later = uuidv7(1_800_000_000_000)
    const earlier = uuidv7(1_700_000_000_000)
    assert.isTrue(earlier > later)
  })
})

/** The 48-bit milliseconds, the 12-bit counter and the 8 random bytes of an id (the first one's 6 random bits only). */
const fieldsOf = (id: string) => {
  const byte = (at: number) => parseInt(id.slice(at, at + 2), 16)
  return {
    millis: parseInt(id.slice(0, 8) + id.slice(9, 13), 16),
    counter: parseInt(id.slice(15, 18), 16),
    random: [byte(19) & 0x3f, byte(21), ...Array.from({ length: 6 }, (_, i) => byte(24 + i * 2))]
  }
}

describe("uuidv7's fields", () => {
  it("the counter runs from 0 to 0xfff within one millisecond; the next id takes the next millisecond, counter 0", () => {
    // Later than any id made before in this process (the module's clock never goes back).
    const millis = Math.max(Date.now(), 1_800_000_000_000) + 1_000
    const ids = Array.from({ length: 4097 }, () => fieldsOf(uuidv7(millis)))
    assert.deepStrictEqual([ids[0].millis, ids[0].counter], [millis, 0])
    assert.deepStrictEqual([ids[1].millis, ids[1].counter], [millis, 1])
    assert.deepStrictEqual([ids[4095].millis, ids[4095].counter], [millis, 0xfff])
    assert.deepStrictEqual([ids[4096].millis, ids[4096].counter], [millis + 1, 0])
  })

  it("every id has random bytes of its own: none repeats, none is a copy of another byte of it or of the id before", () => {
    // Three times the ids one fill of the random pool serves (4096 bytes, 8 an id): it is refilled on the way.
    const n = 1536
    const ids = Array.from({ length: n }, (_, i) => fieldsOf(uuidv7(i)).random)
    assert.strictEqual(new Set(ids.map((random) => random.join())).size, n)
    // Two bytes of independent ids match by chance 1 time in 256 (1 in 64 for the 6 bits): about 6 (24) of 1536.
    for (let p = 0; p < 8; p++) {
      for (let q = 0; q < 8; q++) {
        const mask = p === 0 || q === 0 ? 0x3f : 0xff
        let sameInId = 0
        let sameAsBefore = 0
        for (let k = 1; k < n; k++) {
          if (p < q && (ids[k][p] & mask) === (ids[k][q] & mask)) sameInId++
          if ((ids[k][p] & mask) === (ids[k - 1][q] & mask)) sameAsBefore++
        }
        assert.isBelow(sameInId, n / 10, `random bytes ${p} and ${q} of one id`)
        assert.isBelow(sameAsBefore, n / 10, `random byte ${p} of an id and ${q} of the one before`)
      }
    }
  })
})
