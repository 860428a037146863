/**
 * `TaskInfo.jsonText`: a record's JSON text is its Schema's JSON encoding,
 * stringified, made once per record object (a second call answers from the
 * first, without encoding again); a value that does not encode has none.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as TaskInfo from "../src/TaskInfo.ts"
import { record } from "./TaskStoreConformance.ts"

const encode = Schema.encodeSync(Schema.toCodecJson(TaskInfo.TaskInfo))

describe("TaskInfo.jsonText", () => {
  it("is the record's JSON encoding, stringified", () => {
    const info = record({ status: "completed", result: { n: 1 }, finishedAt: 5_000 })
    assert.strictEqual(TaskInfo.jsonText(info), JSON.stringify(encode(info)))
  })

  it("is made once per record object: a second call answers from the first", () => {
    const info = record({ message: "first" })
    const first = TaskInfo.jsonText(info)
    assert.include(first, "\"first\"")
    // Records are never mutated; changing one here shows the text is not made again.
    ;(info as { message: string | null }).message = "second"
    assert.strictEqual(TaskInfo.jsonText(info), first)
  })

  it("is undefined for a value that does not encode", () => {
    const bad = record({ status: "lost" as TaskInfo.TaskStatus })
    assert.isUndefined(TaskInfo.jsonText(bad))
    assert.isUndefined(TaskInfo.jsonText(bad))
  })
})
