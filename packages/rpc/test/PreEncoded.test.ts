/**
 * The watch streams' items are encoded once for every watcher: the group's
 * own stream schemas (`Watch`, `WatchAll`, `WatchChanges`), through the
 * serialization the server uses, answer the same encoding for the same
 * record whoever it is for, and the line written is byte for byte the line
 * of the plain encoding; what a client decodes is unchanged, and a record
 * that is not one is still refused. The feed's SSE frame of a record and the
 * three streams share one encoding of it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Exit, Schema } from "effect"
import { RpcSerialization } from "effect/rpc"
import { TaskRpcs } from "@chainjobs/rpc"
import { TaskEvent, TaskFeed, TaskInfo } from "@chainjobs/tasks"
import * as PreEncoded from "../src/internal/preEncoded.ts"
import { watchChangesItem } from "../src/internal/watchChangesItem.ts"
import { chunkCodec, line, record } from "./streamChunks.ts"

/** The JSON text of an encoded item (a `PreEncoded`: around the record's text its owner keeps, or made once and kept). */
const json = (encoded: unknown): string => (encoded as PreEncoded.PreEncoded).json

describe("PreEncoded", () => {
  const cases = [
    { tag: "Watch", value: record, plain: TaskInfo.TaskInfo },
    { tag: "WatchAll", value: record, plain: Schema.Union([TaskInfo.TaskInfo, TaskEvent.Deleted]) },
    {
      tag: "WatchChanges",
      value: { _tag: "Change", eventId: "abc123-9", event: record },
      plain: TaskRpcs.WatchChangesItem
    }
  ] as const

  for (const { plain, tag, value } of cases) {
    it(`${tag}: a record is encoded once for every watcher, into the line its plain encoding makes`, () => {
      const encode = Schema.encodeUnknownSync(chunkCodec(tag))
      const first = encode([value]) as ReadonlyArray<unknown>
      const second = encode([value]) as ReadonlyArray<unknown>
      assert.strictEqual(json(second[0]), json(first[0]), "the second watcher's chunk reuses the first one's encoding")
      const plainValues = Schema.encodeUnknownSync(Schema.toCodecJson(Schema.NonEmptyArray(plain as Schema.Codec<unknown, unknown>)))([
        value
      ]) as ReadonlyArray<unknown>
      const expected = line(RpcSerialization.ndjson, plainValues)
      assert.strictEqual(line(PreEncoded.ndjson, first), expected)
      // Any serializer still writes it right, from its `toJSON`.
      assert.strictEqual(line(RpcSerialization.ndjson, first), expected)
      // What a client decodes is the record.
      const decoded = Schema.decodeUnknownSync(chunkCodec(tag))((JSON.parse(String(expected)) as { readonly values: ReadonlyArray<unknown> }).values)
      assert.deepStrictEqual(decoded, [value])
    })
  }

  it("every WatchChanges subscriber of a change gets the same item, so the item is encoded once", () => {
    const change = new TaskFeed.Change(9, "abc123-9", record)
    const item = watchChangesItem(change)
    assert.strictEqual(watchChangesItem(change), item)
    assert.deepStrictEqual(item, { _tag: "Change", eventId: "abc123-9", event: record })
    const encode = Schema.encodeUnknownSync(chunkCodec("WatchChanges"))
    assert.strictEqual(json((encode([watchChangesItem(change)]) as ReadonlyArray<unknown>)[0]), json((encode([item]) as ReadonlyArray<unknown>)[0]))
    const deleted = new TaskFeed.Change(10, "abc123-10", record, true)
    assert.deepStrictEqual(watchChangesItem(deleted), { _tag: "Change", eventId: "abc123-10", event: { _tag: "Deleted", info: record } })
  })

  it("a client still refuses an item that is not a record", () => {
    const decode = Schema.decodeUnknownExit(chunkCodec("Watch"))
    assert.isTrue(Exit.isFailure(decode([{ ...record, attempt: "one" }])))
    assert.isTrue(Exit.isFailure(decode([{ id: 1 }])))
  })

  it("a record is walked once to encode it, not checked by a walk of its own first", () => {
    // Every read of a field of the record, by the check or the encoding.
    let reads = 0
    const counted = new Proxy({ ...record }, {
      get: (target, key, receiver) => {
        if (typeof key === "string" && key in target) reads++
        return Reflect.get(target, key, receiver)
      }
    })
    const encode = Schema.encodeUnknownSync(chunkCodec("Watch"))
    encode([counted])
    const once = reads
    reads = 0
    Schema.encodeUnknownSync(RpcSerialization.ndjson.codecFor(Schema.NonEmptyArray(TaskInfo.TaskInfo)))([counted])
    // The plain encoding of the record reads every field once; a check first would read them all again.
    assert.isAtMost(once, reads, `the pre-encoded schema read ${once} fields, the plain encoding ${reads}`)
    reads = 0
    encode([counted])
    assert.strictEqual(reads, 0, "encoding it again, for another watcher, reads nothing")
  })

  it("the feed's SSE frame and the three streams share one encoding of a record: its fields are read once in all", () => {
    let reads = 0
    const counted = new Proxy({ ...record }, {
      get: (target, key, receiver) => {
        if (typeof key === "string" && key in target) reads++
        return Reflect.get(target, key, receiver)
      }
    })
    const change = new TaskFeed.Change(11, "abc123-11", counted)
    const frame = new TextDecoder().decode(change.sse)
    const once = reads
    assert.isAbove(once, 0)
    const watch = Schema.encodeUnknownSync(chunkCodec("Watch"))([counted]) as ReadonlyArray<unknown>
    const all = Schema.encodeUnknownSync(chunkCodec("WatchAll"))([counted]) as ReadonlyArray<unknown>
    const changes = Schema.encodeUnknownSync(chunkCodec("WatchChanges"))([watchChangesItem(change)]) as ReadonlyArray<unknown>
    assert.strictEqual(reads, once, `the streams read ${reads - once} fields of a record the feed had encoded`)
    // And they write what their plain encodings write.
    const text = JSON.stringify(Schema.encodeSync(Schema.toCodecJson(TaskInfo.TaskInfo))(record))
    assert.include(frame, `data: ${text}\n`)
    assert.strictEqual(line(PreEncoded.ndjson, watch), line(RpcSerialization.ndjson, [JSON.parse(text)]))
    assert.strictEqual(line(PreEncoded.ndjson, all), line(RpcSerialization.ndjson, [JSON.parse(text)]))
    assert.strictEqual(
      line(PreEncoded.ndjson, changes),
      line(RpcSerialization.ndjson, [{ _tag: "Change", eventId: "abc123-11", event: JSON.parse(text) }])
    )
  })

  it("a server refuses to encode a value that is not a record", () => {
    assert.isTrue(Exit.isFailure(Schema.encodeUnknownExit(chunkCodec("Watch"))([{ id: 1 }])))
  })

  it("messages other than stream chunks, and batches, are written as the plain serialization writes them", () => {
    const messages = [
      { _tag: "Exit", requestId: "7", exit: { _tag: "Success", value: { id: "x" } } },
      { _tag: "Chunk", requestId: "8", values: [1, "two", null, { three: [3] }] },
      { _tag: "Pong" }
    ]
    for (const message of messages) {
      assert.strictEqual(PreEncoded.ndjson.makeUnsafe().encode(message), RpcSerialization.ndjson.makeUnsafe().encode(message))
    }
    assert.strictEqual(PreEncoded.ndjson.makeUnsafe().encode(messages), RpcSerialization.ndjson.makeUnsafe().encode(messages))
    assert.strictEqual(PreEncoded.ndjson.makeUnsafe().encode([]), undefined)
  })
})
