/**
 * The root hash of a Merkle-Patricia trie whose keys are the RLP encodings
 * of the indices 0, 1, 2… (the tries of a block's transactions, receipts and
 * withdrawals): hex-prefix encoded leaf and extension paths, 17-slot branch
 * nodes, and a node embedded in its parent when its RLP is shorter than 32
 * bytes, hashed otherwise.
 */
import { type Hex, hexToBytes, keccak256, toRlp } from "viem"

/** A node as RLP items: a byte string or a list of nodes. */
type Node = Hex | ReadonlyArray<Node>

/** A quantity as RLP wants it: minimal big-endian bytes, zero as the empty string. */
export const quantity = (value: bigint | number): Hex => {
  const hex = BigInt(value).toString(16)
  return BigInt(value) === 0n ? "0x" : `0x${hex.length % 2 === 0 ? hex : `0${hex}`}`
}

const nibblesOf = (bytes: Uint8Array): Array<number> => Array.from(bytes).flatMap((byte) => [byte >> 4, byte & 15])

/** Hex-prefix encoding of a path of nibbles, flagged as a leaf's or an extension's. */
const compact = (path: ReadonlyArray<number>, leaf: boolean): Hex => {
  const flag = leaf ? 2 : 0
  const nibbles = path.length % 2 === 1 ? [flag + 1, ...path] : [flag, 0, ...path]
  let hex = "0x"
  for (const nibble of nibbles) hex += nibble.toString(16)
  return hex as Hex
}

/** A child as its parent holds it: embedded when its RLP is shorter than 32 bytes, its hash otherwise. */
const reference = (node: Node): Node => {
  const encoded = toRlp(node as Parameters<typeof toRlp>[0])
  return (encoded.length - 2) / 2 < 32 ? node : keccak256(encoded)
}

interface Entry {
  readonly path: ReadonlyArray<number>
  readonly value: Hex
}

const build = (entries: ReadonlyArray<Entry>, depth: number): Node => {
  if (entries.length === 1) return [compact(entries[0]!.path.slice(depth), true), entries[0]!.value]
  const first = entries[0]!.path
  let shared = 0
  while (entries.every((entry) => entry.path.length > depth + shared && entry.path[depth + shared] === first[depth + shared])) {
    shared++
  }
  if (shared > 0) {
    return [compact(first.slice(depth, depth + shared), false), reference(build(entries, depth + shared))]
  }
  const slots: Array<Node> = []
  for (let nibble = 0; nibble < 16; nibble++) {
    const below = entries.filter((entry) => entry.path.length > depth && entry.path[depth] === nibble)
    slots.push(below.length === 0 ? "0x" : reference(build(below, depth + 1)))
  }
  slots.push(entries.find((entry) => entry.path.length === depth)?.value ?? "0x")
  return slots
}

/** The root hash of the trie holding `values[i]` under the key RLP(i). */
export const orderedRoot = (values: ReadonlyArray<Hex>): Hex => {
  if (values.length === 0) return keccak256(toRlp("0x"))
  const entries = values.map((value, index) => ({ path: nibblesOf(hexToBytes(toRlp(quantity(index)))), value }))
  return keccak256(toRlp(build(entries, 0) as Parameters<typeof toRlp>[0]))
}
