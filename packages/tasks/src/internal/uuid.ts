/**
 * Time-ordered ids (UUID version 7, RFC 9562) that also sort in creation order
 * within one process: the 12-bit `rand_a` field carries a counter while the
 * clock stays on one millisecond (RFC 9562, method 1). Each id is written into
 * a byte buffer and read out as one flat string: a string built by `+` would
 * keep a tree of fragments alive for as long as the id lives.
 */
import { randomFillSync } from "node:crypto"

const random = new Uint8Array(4096)
let randomOffset = random.length
let lastMillis = -1
let counter = 0

const hexDigits = Buffer.from("0123456789abcdef", "latin1")
const out = Buffer.alloc(36)

/** Writes `byte` as two hex digits at `at`. */
const writeByte = (at: number, byte: number) => {
  out[at] = hexDigits[byte >>> 4]
  out[at + 1] = hexDigits[byte & 0xf]
}

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
  const high = Math.floor(lastMillis / 0x1_0000_0000)
  const low = lastMillis >>> 0
  // time_high, time_low: 48 bits of milliseconds
  writeByte(0, (high >>> 8) & 0xff)
  writeByte(2, high & 0xff)
  writeByte(4, low >>> 24)
  writeByte(6, (low >>> 16) & 0xff)
  out[8] = 0x2d
  writeByte(9, (low >>> 8) & 0xff)
  writeByte(11, low & 0xff)
  out[13] = 0x2d
  // version 7 and the 12-bit counter
  writeByte(14, 0x70 | (counter >>> 8))
  writeByte(16, counter & 0xff)
  out[18] = 0x2d
  // variant 10 and 62 random bits
  writeByte(19, 0x80 | (random[r] & 0x3f))
  writeByte(21, random[r + 1])
  out[23] = 0x2d
  for (let i = 0; i < 6; i++) writeByte(24 + i * 2, random[r + 2 + i])
  return out.toString("latin1", 0, 36)
}
