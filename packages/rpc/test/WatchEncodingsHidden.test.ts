/**
 * The watch streams' encodings are kept without `WeakMap`s: a record's text
 * on the record (`TaskInfo.jsonText`), a feed change's `WatchChanges` item
 * on the change, a change's text on its item, and an encoding made by
 * `PreEncoded.schema` on the value (hidden fields, `HiddenField`). A `WeakMap` entry per record was an
 * ephemeron V8's full collection had to settle: ~100k of them under issue
 * 17's load grew the service's C heap in steps. What is encoded once stays
 * encoded once: a change's text for every subscriber, and a deletion's
 * item, which has no shared text, too.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { RpcSerialization } from "effect/rpc"
import { TaskFeed, type TaskInfo } from "@chainjobs/tasks"
import { weakMapEntries } from "@chainjobs/tasks/test/weakMapEntries"
import * as PreEncoded from "../src/internal/preEncoded.ts"
import { watchChangesItem } from "../src/internal/watchChangesItem.ts"
import { chunkCodec, counted, line, record } from "./streamChunks.ts"

const numbered = (n: number): TaskInfo.TaskInfo => ({ ...record, id: `0198a0c0-0000-7000-8000-${String(n).padStart(12, "0")}` })

describe("watch encodings kept in hidden fields", () => {
  it("a deletion's WatchChanges item is encoded once for every subscriber, into the plain encoding's line", () => {
    const reading = counted(record)
    const change = new TaskFeed.Change(20, "abc123-20", reading.info, true)
    const encode = Schema.encodeUnknownSync(chunkCodec("WatchChanges"))
    const first = encode([watchChangesItem(change)]) as ReadonlyArray<unknown>
    assert.isAbove(reading.reads(), 0)
    reading.reset()
    const second = encode([watchChangesItem(change)]) as ReadonlyArray<unknown>
    assert.strictEqual(reading.reads(), 0, "the second subscriber's encoding read the record again")
    assert.strictEqual(second[0], first[0])
    const plain = { _tag: "Change", eventId: "abc123-20", event: { _tag: "Deleted", info: record } } as const
    assert.strictEqual(line(PreEncoded.ndjson, second), line(RpcSerialization.ndjson, [plain]))
    // The change and its item read as they did.
    assert.deepStrictEqual(Reflect.ownKeys(change), ["_tag", "seq", "eventId", "info", "deleted"])
    assert.deepStrictEqual(watchChangesItem(change), plain)
  })

  it("a change's WatchChanges text is made once for every subscriber, into the plain encoding's line", () => {
    let reads = 0
    const plain = { _tag: "Change", eventId: "abc123-21", event: record } as const
    // The feed's item of a change (one object for all its subscribers), counting the reads of its event id.
    const item = new Proxy({ ...plain }, {
      get: (target, key, receiver) => {
        if (key === "eventId") reads++
        return Reflect.get(target, key, receiver)
      }
    })
    const encode = Schema.encodeUnknownSync(chunkCodec("WatchChanges"))
    encode([item])
    assert.isAbove(reads, 0)
    reads = 0
    const second = encode([item]) as ReadonlyArray<unknown>
    assert.strictEqual(reads, 0, "the second subscriber's encoding made the change's text again")
    assert.strictEqual(line(PreEncoded.ndjson, second), line(RpcSerialization.ndjson, [plain]))
    assert.deepStrictEqual(Reflect.ownKeys(item), ["_tag", "eventId", "event"])
  })

  it("2,000 changes (some deletions) encoded for Watch, WatchAll and WatchChanges add no WeakMap entry per change", async () => {
    const watch = Schema.encodeUnknownSync(chunkCodec("Watch"))
    const all = Schema.encodeUnknownSync(chunkCodec("WatchAll"))
    const changes = Schema.encodeUnknownSync(chunkCodec("WatchChanges"))
    const before = await weakMapEntries()
    const held = Array.from({ length: 2_000 }, (_, n) => new TaskFeed.Change(n, `abc123-${n}`, numbered(n), n % 10 === 0))
    for (const change of held) {
      for (let subscriber = 0; subscriber < 2; subscriber++) {
        if (!change.deleted) watch([change.info])
        all([change.deleted ? { _tag: "Deleted", info: change.info } : change.info])
        changes([watchChangesItem(change)])
      }
    }
    const after = await weakMapEntries()
    assert.isBelow(after - before, 200, `${after - before} WeakMap entries more for ${held.length} changes`)
    assert.strictEqual(held.length, 2_000)
  }, 300_000)
})
