/**
 * A contract log decoded by the signatures a caller gave: its name and
 * arguments as JSON (integers as decimal strings, addresses lowercase, arrays
 * and structs value by value), where it is in the chain, and its raw topics
 * and data; a log no signature decodes is kept raw. And the chain order a
 * page's cursor follows.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { encodeAbiParameters, encodeEventTopics, getAddress, type Hex, type Log, parseAbi } from "viem"
import * as DecodedEvent from "../src/DecodedEvent.ts"

const abi = parseAbi([
  "event Transfer(address indexed from, address indexed to, uint256 value)",
  "event Batch(uint256[] amounts, (address owner, uint64 nonce, bool open) detail, string note)"
])

// checksummed: mixed case, as viem decodes them
const token = getAddress("0xabcdef0123456789abcdef0123456789abcdef01")
const from = getAddress("0x1111111111111111111111111111111111111aaa")
const to = getAddress("0x2222222222222222222222222222222222222bbb")

const log = (topics: ReadonlyArray<Hex>, data: Hex, transactionHash: Hex | null = `0x${"ab".repeat(32)}`): Log => ({
  address: token,
  blockHash: `0x${"cd".repeat(32)}`,
  blockNumber: 1234n,
  data,
  logIndex: 7,
  removed: false,
  topics: topics as [Hex, ...Array<Hex>],
  transactionHash,
  transactionIndex: 2
}) as Log

describe("DecodedEvent", () => {
  it("decodes a log by the given signatures into JSON: big integers as decimal strings, addresses lowercase", () => {
    const topics = encodeEventTopics({ abi, eventName: "Transfer", args: { from, to } }) as Array<Hex>
    const value = 2n ** 200n + 1n
    const data = encodeAbiParameters([{ type: "uint256" }], [value])
    const event = DecodedEvent.decode(abi, log(topics, data))
    assert.deepStrictEqual(event, {
      blockNumber: 1234,
      logIndex: 7,
      transactionHash: `0x${"ab".repeat(32)}`,
      address: token.toLowerCase(),
      name: "Transfer",
      args: { from: from.toLowerCase(), to: to.toLowerCase(), value: value.toString() },
      topics,
      data
    })
    assert.deepStrictEqual(JSON.parse(JSON.stringify(event)), event)
  })

  it("decodes arrays and structs value by value, and leaves other strings as they are", () => {
    const topics = encodeEventTopics({ abi, eventName: "Batch" }) as Array<Hex>
    const data = encodeAbiParameters(
      [{ type: "uint256[]" }, { type: "tuple", components: [{ type: "address" }, { type: "uint64" }, { type: "bool" }] }, { type: "string" }],
      [[1n, 10n ** 30n], [from, 9n, true], "Hello 0xABC"]
    )
    const event = DecodedEvent.decode(abi, log(topics, data))
    assert.strictEqual(event.name, "Batch")
    assert.deepStrictEqual(event.args, {
      amounts: ["1", (10n ** 30n).toString()],
      detail: { owner: from.toLowerCase(), nonce: "9", open: true },
      note: "Hello 0xABC"
    })
  })

  it("decodes an event without arguments to its name, with no arguments", () => {
    const paused = parseAbi(["event Paused()"])
    const topics = encodeEventTopics({ abi: paused, eventName: "Paused" }) as Array<Hex>
    const event = DecodedEvent.decode(paused, log(topics, "0x"))
    assert.deepInclude(event, { name: "Paused", args: null, topics, data: "0x" })
  })

  it("keeps a log no signature decodes raw, with no name and no arguments", () => {
    const unknown: Hex = `0x${"ee".repeat(32)}`
    const event = DecodedEvent.decode(abi, log([unknown], "0x1234", null))
    assert.deepStrictEqual(event, {
      blockNumber: 1234,
      logIndex: 7,
      transactionHash: "",
      address: token.toLowerCase(),
      name: null,
      args: null,
      topics: [unknown],
      data: "0x1234"
    })
  })

  const Position = Schema.Struct({
    blockNumber: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 })),
    logIndex: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 }))
  })
  it.prop("a position is after a cursor when its block is later, or its index in the same block", { position: Position, cursor: Position }, ({ cursor, position }) => {
    const later = position.blockNumber > cursor.blockNumber ||
      (position.blockNumber === cursor.blockNumber && position.logIndex > cursor.logIndex)
    assert.strictEqual(DecodedEvent.isAfter(position, cursor), later)
    assert.isTrue(DecodedEvent.isAfter(position, undefined))
  })
})
