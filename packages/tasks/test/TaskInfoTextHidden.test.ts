/**
 * A record's JSON text (`TaskInfo.jsonText`, shared by the feed's SSE frames
 * and the RPC watchers) is kept on the record itself, in a hidden field, not
 * in a `WeakMap`: a `WeakMap` entry per record was an ephemeron V8's full
 * collection had to settle, and ~100k of them under issue 17's load grew
 * the C heap in steps. The record reads exactly as before to everyone: its
 * keys, JSON, copies, Effect's `Equal` and `Hash`, Schema's checks.
 */
import { assert, describe, it } from "@effect/vitest"
import { Equal, Hash, Schema } from "effect"
import * as HiddenField from "../src/HiddenField.ts"
import * as TaskFeed from "../src/TaskFeed.ts"
import * as TaskInfo from "../src/TaskInfo.ts"
import { record } from "./TaskStoreConformance.ts"
import { weakMapEntries } from "./weakMapEntries.ts"

const encodeText = (info: TaskInfo.TaskInfo) => JSON.stringify(Schema.encodeSync(Schema.toCodecJson(TaskInfo.TaskInfo))(info))

describe("TaskInfo.jsonText kept on the record", () => {
  it("a record with its text made reads as it did: keys, JSON, copies, Equal, Hash, Schema's excess-property check", () => {
    const info = record({ status: "running", message: "scanning \"blocks\"", detail: { block: 1 } })
    const twin = { ...info }
    const hashBefore = Hash.hash(info)
    const text = TaskInfo.jsonText(info)
    assert.strictEqual(text, encodeText(twin))
    assert.strictEqual(TaskInfo.jsonText(info), text)
    assert.deepStrictEqual(Reflect.ownKeys(info), Reflect.ownKeys(twin))
    assert.strictEqual(JSON.stringify(info), JSON.stringify(twin))
    assert.isTrue(Equal.equals(info, twin))
    assert.isTrue(Equal.equals(twin, info))
    assert.strictEqual(Hash.hash(info), hashBefore)
    const strict = { onExcessProperty: "error" } as const
    assert.deepStrictEqual(Schema.decodeUnknownSync(TaskInfo.TaskInfo)(info, strict), twin)
    assert.deepStrictEqual(Schema.encodeUnknownSync(TaskInfo.TaskInfo)(info, strict), twin)
    assert.deepStrictEqual(structuredClone(info), twin)
  })

  it("a copy of a record made with a change gets its own text, not the original's", () => {
    const info = record({ status: "running", startedAt: 5 })
    const text = TaskInfo.jsonText(info)
    const done: TaskInfo.TaskInfo = { ...info, status: "completed", progress: 100, finishedAt: 9 }
    assert.strictEqual(TaskInfo.jsonText(done), encodeText(done))
    assert.notStrictEqual(TaskInfo.jsonText(done), text)
    assert.strictEqual(TaskInfo.jsonText(info), text)
  })

  it("a frozen record keeps nothing and still gets its text, every time", () => {
    const info = Object.freeze(record())
    const field = HiddenField.make<string>()
    field.set(info, "kept")
    assert.isUndefined(field.get(info))
    assert.strictEqual(TaskInfo.jsonText(info), encodeText({ ...info }))
    assert.strictEqual(TaskInfo.jsonText(info), encodeText({ ...info }))
  })

  it("fields are each their own: one field's value is not another's", () => {
    const a = HiddenField.make<string>()
    const b = HiddenField.make<string>()
    const target = {}
    a.set(target, "a")
    assert.strictEqual(a.get(target), "a")
    assert.isUndefined(b.get(target))
    b.set(target, "b")
    a.set(target, "a2")
    assert.deepStrictEqual([a.get(target), b.get(target)], ["a2", "b"])
    assert.deepStrictEqual(Reflect.ownKeys(target), [])
  })

  it("texts of 5,000 records and their feed changes' frames add no WeakMap entry", async () => {
    const before = await weakMapEntries()
    const held = Array.from({ length: 5_000 }, (_, n) => new TaskFeed.Change(n, `f-${n}`, record({ detail: { block: n } })))
    for (const change of held) {
      assert.isDefined(TaskInfo.jsonText(change.info))
      assert.include(change.sseText, "data: {")
    }
    const after = await weakMapEntries()
    assert.isBelow(after - before, 500, `${after - before} WeakMap entries more for ${held.length} records`)
    assert.strictEqual(held.length, 5_000)
  }, 300_000)
})
