/**
 * `RestApi.recordText`, a status body: a record as the API encodes
 * `TaskRecord` (`toRecord`'s ISO times after `TaskInfo`'s fields), made from
 * the record's own text (`TaskInfo.jsonText`, made once per record and
 * shared with the event frames) instead of through the Schema again — the
 * same text, byte for byte, for any record; a record the Schema refuses
 * still goes to it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { TaskInfo } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { recordText, TaskRecord, toRecord } from "../src/RestApi.ts"

/** The fields of a record that hold any value: JSON values in the first property. */
const openFields = ["detail", "payload", "result", "error", "checkpoint"] as const

const encodeRecord = Schema.encodeSync(Schema.toCodecJson(TaskRecord))

/** The Schema's text of `toRecord(info)`, or the error it throws. */
const schemaText = (info: TaskInfo.TaskInfo): string | Error => {
  try {
    return JSON.stringify(encodeRecord(toRecord(info)))
  } catch (error) {
    return error as Error
  }
}

/** `recordText(info)`, or the error it throws. */
const text = (info: TaskInfo.TaskInfo): string | Error => {
  try {
    return recordText(info)
  } catch (error) {
    return error as Error
  }
}

describe("RestApi.recordText", () => {
  it("is the record's kept text with its ISO times after it: not encoded again", () => {
    const created = Date.UTC(2026, 11, 1, 5, 0, 0, 123)
    const info = record({ message: "first", createdAt: created, startedAt: created + 1000 })
    TaskInfo.jsonText(info)
    // Records are never mutated; changing one here shows the body is made from the text kept on it.
    ;(info as { message: string | null }).message = "second"
    const body = recordText(info)
    assert.include(body, "\"message\":\"first\"")
    assert.isTrue(
      body.endsWith(",\"createdAtIso\":\"2026-12-01T05:00:00.123Z\",\"startedAtIso\":\"2026-12-01T05:00:01.123Z\",\"finishedAtIso\":null}"),
      body
    )
  })

  it("is the Schema's text of a finished record with every optional field", () => {
    const info = record({
      status: "completed",
      result: { n: 1 },
      startedAt: 2_000,
      finishedAt: 3_000,
      timeoutMillis: 5_000,
      heartbeatTimeoutMillis: 1_000,
      retries: 2,
      runner: "127.0.0.1:7000"
    })
    assert.strictEqual(recordText(info), schemaText(info))
  })

  it.prop("is the Schema's text for any record with JSON values in its open fields", {
    info: Schema.Struct({
      ...TaskInfo.TaskInfo.fields,
      createdAt: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 4_000_000_000_000 })),
      startedAt: Schema.NullOr(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 4_000_000_000_000 }))),
      finishedAt: Schema.NullOr(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 4_000_000_000_000 }))),
      ...Object.fromEntries(openFields.map((field) => [field, Schema.Json]))
    })
  }, ({ info }) => {
    assert.strictEqual(recordText(info as TaskInfo.TaskInfo), schemaText(info as TaskInfo.TaskInfo))
  })

  it("throws the Schema's own refusal for a record it refuses (no text of its own)", () => {
    const refused = { ...record({ owner: "alice" }), status: "bogus" } as unknown as TaskInfo.TaskInfo
    assert.isUndefined(TaskInfo.jsonText(refused))
    const expected = schemaText(refused)
    assert.instanceOf(expected, Error)
    const actual = text(refused)
    assert.strictEqual(actual instanceof Error ? actual.message : actual, (expected as Error).message)
  })

  it.prop("answers as the Schema does for any record: its text, or its refusal thrown", { info: TaskInfo.TaskInfo }, ({ info }) => {
    const expected = schemaText(info)
    const actual = text(info)
    if (typeof expected === "string") assert.strictEqual(actual, expected)
    else assert.instanceOf(actual, Error)
  })
})
