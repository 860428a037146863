/**
 * The edges of pre-encoded items (`internal/preEncoded.ts`) that the group's
 * streams do not reach: a schema made without a shared text encodes each
 * object once, as its plain Schema would (with `keepText` too); a shared
 * text is wrapped anew at each encoding, unless `keepText` keeps it; a value that is no object (a
 * number, `null`) is encoded as it is, never kept; an object that is not an
 * `S` fails with the plain Schema's issue; `Schema.is` of the declaration
 * takes any object and checks only other values; and the serialization
 * writes every message, whatever its shape, byte for byte as the plain
 * ndjson serialization does.
 */
import { assert, describe, it } from "@effect/vitest"
import { Exit, Schema } from "effect"
import { randomUUID } from "node:crypto"
import { RpcSerialization } from "effect/rpc"
import { TaskInfo } from "@chainjobs/tasks"
import * as PreEncoded from "../src/internal/preEncoded.ts"
import { record } from "./streamChunks.ts"

/** The JSON encoding of `schema`, as an exit. */
const encodeExit = (schema: Schema.Codec<unknown, unknown>) => Schema.encodeUnknownExit(Schema.toCodecJson(schema))

/** A message's line as `serialization` writes it. */
const written = (serialization: RpcSerialization.RpcSerialization["Service"], message: unknown) =>
  serialization.makeUnsafe().encode(message as never)

describe("pre-encoded items at their edges", () => {
  it("without a shared text, an object is encoded once, into its plain encoding (keepText or not)", () => {
    for (const options of [undefined, { keepText: true }]) {
      const encode = encodeExit(PreEncoded.schema(TaskInfo.TaskInfo, undefined, options) as Schema.Codec<unknown, unknown>)
      const value = { ...record }
      const first = encode(value)
      const second = encode(value)
      assert.isTrue(Exit.isSuccess(first) && Exit.isSuccess(second), `encoded with ${JSON.stringify(options)}`)
      if (Exit.isSuccess(first) && Exit.isSuccess(second)) {
        assert.instanceOf(first.value, PreEncoded.PreEncoded)
        assert.strictEqual(second.value, first.value, "the second encoding is the first one's")
        assert.deepStrictEqual(JSON.parse((first.value as PreEncoded.PreEncoded).json), Schema.encodeSync(Schema.toCodecJson(TaskInfo.TaskInfo))(record))
      }
    }
  })

  it("a shared text is asked for at each encoding and kept by its owner alone; with keepText, it is made once and kept on the value", () => {
    let asked = 0
    const textOf = (info: TaskInfo.TaskInfo) => {
      asked++
      return TaskInfo.jsonText(info)
    }
    const twice = (options: { readonly keepText: boolean } | undefined) => {
      const encode = encodeExit(PreEncoded.schema(TaskInfo.TaskInfo, textOf, options) as Schema.Codec<unknown, unknown>)
      const value = { ...record }
      asked = 0
      const encodings = [encode(value), encode(value)].map((exit) => Exit.isSuccess(exit) ? exit.value as unknown as PreEncoded.PreEncoded : undefined)
      assert.deepStrictEqual(encodings.map((encoding) => encoding?.json), [TaskInfo.jsonText(record), TaskInfo.jsonText(record)])
      return { asked, same: encodings[0] === encodings[1] }
    }
    // shared: a new wrapper each time (a small object that dies young), nothing kept on the record
    assert.deepStrictEqual(twice(undefined), { asked: 2, same: false })
    assert.deepStrictEqual(twice({ keepText: false }), { asked: 2, same: false })
    assert.deepStrictEqual(twice({ keepText: true }), { asked: 1, same: true })
  })

  it("an object that is not one fails with the plain Schema's issue, naming the field", () => {
    const bad = { ...record, attempt: "one" }
    const expected = encodeExit(TaskInfo.TaskInfo as Schema.Codec<unknown, unknown>)(bad)
    for (const textOf of [undefined, () => undefined]) {
      const got = encodeExit(PreEncoded.schema(TaskInfo.TaskInfo, textOf) as Schema.Codec<unknown, unknown>)(bad)
      assert.isTrue(Exit.isFailure(expected) && Exit.isFailure(got))
      assert.strictEqual(String(Exit.isFailure(got) ? got.cause : ""), String(Exit.isFailure(expected) ? expected.cause : ""))
      assert.include(String(Exit.isFailure(got) ? got.cause : ""), "attempt")
    }
  })

  it("a value that is no object (a number, null) is encoded as the plain Schema encodes it", () => {
    const plain = Schema.NullOr(Schema.Number)
    const encode = encodeExit(PreEncoded.schema(plain) as Schema.Codec<unknown, unknown>)
    for (const value of [5, null]) {
      const got = encode(value)
      assert.isTrue(Exit.isSuccess(got), `${value} is encoded`)
      assert.deepStrictEqual(got, encodeExit(plain as Schema.Codec<unknown, unknown>)(value))
    }
  })

  it("Schema.is of the declaration takes any object as it is and checks other values", () => {
    const is = Schema.is(PreEncoded.schema(Schema.NullOr(Schema.Number)))
    assert.isTrue(is({ any: "object" }), "an object is not checked here")
    assert.isTrue(is(5))
    assert.isTrue(is(null), "null is checked as a value: an S here")
    assert.isFalse(is("five"))
    const records = Schema.is(PreEncoded.schema(TaskInfo.TaskInfo))
    assert.isTrue(records(record))
    assert.isFalse(records(null), "null is no object to take as it is")
    assert.isFalse(records(5))
  })

  it("a message of any shape is written byte for byte as the plain ndjson serialization writes it", () => {
    const messages: ReadonlyArray<unknown> = [
      null,
      "text",
      7,
      { _tag: "Exit", requestId: "7", exit: { _tag: "Success", value: 1 } },
      { _tag: "Exit", requestId: "7", values: "not a chunk" },
      { _tag: "Chunk", requestId: "7", values: "not an array" },
      { _tag: "Chunk", requestId: "7", values: [1, { a: "b" }], note: undefined },
      [{ _tag: "Chunk", requestId: "7", values: [null] }, null]
    ]
    for (const message of messages) {
      assert.strictEqual(written(PreEncoded.ndjson, message), written(RpcSerialization.ndjson, message), JSON.stringify(message))
    }
  })

  it("a chunk with a key never written before has it written as the plain ndjson serialization writes it", () => {
    // The key's text is made on its first use and kept (a chunk has a handful of keys): a key new to this process
    // (a test worker that outlives one file has written the usual ones already) is the one made here.
    const key = `note-${randomUUID()}`
    const message = { _tag: "Chunk", requestId: "7", values: [new PreEncoded.PreEncoded("{\"a\":1}")], [key]: "x\"y" }
    assert.strictEqual(written(PreEncoded.ndjson, message), written(RpcSerialization.ndjson, message))
    assert.strictEqual(written(PreEncoded.ndjson, message), written(RpcSerialization.ndjson, message), "written again, from the kept text")
  })
})
