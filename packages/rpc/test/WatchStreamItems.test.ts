/**
 * The watch streams' items other than a live record, as the server writes
 * them and a client reads them: a deletion on `WatchAll`, and on
 * `WatchChanges` a change that is a deletion and a `Reset` (a cursor the feed
 * no longer holds, or never held). Each is written, through the server's
 * pre-encoding serialization, as the line its plain encoding makes, and a
 * client decodes it back to the same item.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { RpcSerialization } from "effect/rpc"
import { TaskRpcs } from "@chainjobs/rpc"
import { TaskEvent, TaskFeed, TaskInfo } from "@chainjobs/tasks"
import * as PreEncoded from "../src/internal/preEncoded.ts"
import { watchChangesItem } from "../src/internal/watchChangesItem.ts"
import { chunkCodec, line, record } from "./streamChunks.ts"

const deleted: TaskEvent.Deleted = { _tag: "Deleted", info: { ...record, status: "completed", finishedAt: 4 } }

/** Writes `item` on stream `tag` as the server does, and checks the line and what a client decodes from it. */
const roundTrip = (tag: "WatchAll" | "WatchChanges", item: unknown, plain: Schema.Codec<unknown, unknown>) => {
  const written = Schema.encodeUnknownSync(chunkCodec(tag))([item]) as ReadonlyArray<unknown>
  const plainValues = Schema.encodeUnknownSync(Schema.toCodecJson(Schema.NonEmptyArray(plain)))([item]) as ReadonlyArray<unknown>
  const expected = line(RpcSerialization.ndjson, plainValues)
  assert.strictEqual(line(PreEncoded.ndjson, written), expected)
  const sent = JSON.parse(String(expected)) as { readonly values: ReadonlyArray<unknown> }
  assert.deepStrictEqual(Schema.decodeUnknownSync(chunkCodec(tag))(sent.values), [item])
  return sent.values[0]
}

describe("the watch streams' deletions and resets", () => {
  it("WatchAll: a deletion is written as its plain encoding, tagged Deleted, and read back", () => {
    const sent = roundTrip("WatchAll", deleted, Schema.Union([TaskInfo.TaskInfo, TaskEvent.Deleted]) as Schema.Codec<unknown, unknown>)
    assert.deepInclude(sent as object, { _tag: "Deleted" })
  })

  it("WatchChanges: a change that deletes its task is written with the deletion as its event, and read back", () => {
    const item = watchChangesItem(new TaskFeed.Change(12, "abc123-12", deleted.info, true))
    const sent = roundTrip("WatchChanges", item, TaskRpcs.WatchChangesItem as Schema.Codec<unknown, unknown>)
    assert.deepInclude(sent as object, { _tag: "Change", eventId: "abc123-12" })
    assert.deepInclude((sent as { readonly event: object }).event, { _tag: "Deleted" })
  })

  it("WatchChanges: a reset is written as itself, with its reason and cursor, and read back", () => {
    for (const reason of ["expired", "unknown"] as const) {
      const item: TaskRpcs.Reset = { _tag: "Reset", reason, after: "abc123-3" }
      assert.deepStrictEqual(roundTrip("WatchChanges", item, TaskRpcs.WatchChangesItem as Schema.Codec<unknown, unknown>), item)
    }
  })
})
