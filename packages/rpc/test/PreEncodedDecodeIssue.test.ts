/**
 * What a pre-encoded stream item (`internal/preEncoded.ts`) gives a client
 * that reads a bad item, and how a chunk holding `undefined` is written:
 * both as the plain Schema and the plain ndjson serialization give them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Exit, Schema } from "effect"
import { RpcSerialization } from "effect/rpc"
import { TaskInfo } from "@chainjobs/tasks"
import * as PreEncoded from "../src/internal/preEncoded.ts"
import { record } from "./streamChunks.ts"

describe("pre-encoded items, read and written as the plain ones", () => {
  it("a bad item fails its decoding with the plain Schema's issue, naming the field", () => {
    const plain = Schema.decodeUnknownExit(Schema.toCodecJson(TaskInfo.TaskInfo))
    const pre = Schema.decodeUnknownExit(Schema.toCodecJson(PreEncoded.schema(TaskInfo.TaskInfo)))
    const bad = { ...record, attempt: "one" }
    const expected = plain(bad)
    const got = pre(bad)
    assert.isTrue(Exit.isFailure(expected) && Exit.isFailure(got))
    assert.strictEqual(String(Exit.isFailure(got) ? got.cause : ""), String(Exit.isFailure(expected) ? expected.cause : ""))
    assert.include(String(Exit.isFailure(got) ? got.cause : ""), "attempt")
  })

  it("an undefined value in a chunk is written as null, as JSON.stringify writes it in an array", () => {
    const message = { _tag: "Chunk", requestId: "7", values: [undefined, 1] }
    const written = PreEncoded.ndjson.makeUnsafe().encode(message)
    assert.strictEqual(written, RpcSerialization.ndjson.makeUnsafe().encode(message))
    assert.deepStrictEqual(JSON.parse(String(written)).values, [null, 1])
  })
})
