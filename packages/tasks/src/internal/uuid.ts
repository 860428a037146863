/**
 * Time-ordered ids (UUID version 7, RFC 9562) that also sort in creation order
 * within one process: the 12-bit `rand_a` field carries a counter while the
 * clock stays on one millisecond (RFC 9562, method 1).
 */
import { randomFillSync } from "node:crypto"

const random = new Uint8Array(4096)
let randomOffset = random.length
let lastMillis = -1
let counter = 0

const hex = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/** A new UUID v7 string, greater than every one made before it in this process. */
export const uuidv7 = (nowMillis: number): string => {
  if (nowMillis > lastMillis) {
    lastMillis = nowMillis
    counter = 0
  } else if (++counter > 0xfff) {
    lastMillis++
    counter = 0
  }
  if (randomOffset + 8 > random.length) {
    randomFillSync(random)
    randomOffset = 0
  }
  const r = randomOffset
  randomOffset += 8
  const ms = lastMillis
  const high = Math.floor(ms / 0x1_0000_0000)
  const low = ms >>> 0
  return (
    hex[(high >>> 8) & 0xff] + hex[high & 0xff] + hex[low >>> 24] + hex[(low >>> 16) & 0xff] + "-" +
    hex[(low >>> 8) & 0xff] + hex[low & 0xff] + "-" +
    hex[0x70 | (counter >>> 8)] + hex[counter & 0xff] + "-" +
    hex[0x80 | (random[r] & 0x3f)] + hex[random[r + 1]] + "-" +
    hex[random[r + 2]] + hex[random[r + 3]] + hex[random[r + 4]] + hex[random[r + 5]] + hex[random[r + 6]] +
    hex[random[r + 7]]
  )
}
