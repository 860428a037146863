import { assert, describe, it } from "@effect/vitest"
import { uuidv7 } from "../src/internal/uuid.ts"

describe("uuidv7", () => {
  it("makes well-formed version 7 ids that sort in creation order, even past 4096 in one millisecond", () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => uuidv7(1_700_000_000_000 + Math.floor(i / 5_000)))
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    assert.deepStrictEqual([...ids].sort(), ids)
    assert.strictEqual(new Set(ids).size, ids.length)
    assert.strictEqual(ids[0].slice(0, 13), "018bcfe5-6800")
  })

  it("never goes backwards when the clock does", () => {
    const later = uuidv7(1_800_000_000_000)
    const earlier = uuidv7(1_700_000_000_000)
    assert.isTrue(earlier > later)
  })
})
