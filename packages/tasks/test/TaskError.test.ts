/** The task runtime's errors: namespaced identifiers, messages derived from their fields, intact across encoding. */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as TaskError from "../src/TaskError.ts"

const roundTrip = <S extends Schema.Codec<any, any, never, never>>(schema: S, value: S["Type"]): S["Type"] =>
  Schema.decodeUnknownSync(schema)(JSON.parse(JSON.stringify(Schema.encodeSync(schema)(value))))

describe("TaskError", () => {
  it.prop("a message is derived from the fields, so it is the same after a JSON round trip", {
    id: Schema.String,
    kind: Schema.String,
    other: Schema.String
  }, ({ id, kind, other }) => {
    const errors = [
      [TaskError.TaskNotFound, new TaskError.TaskNotFound({ id })],
      [TaskError.TaskNotFound, new TaskError.TaskNotFound({ id, kindMismatch: { expected: kind, actual: other } })],
      [TaskError.UnknownTaskKind, new TaskError.UnknownTaskKind({ kind })],
      [TaskError.InvalidPayload, new TaskError.InvalidPayload({ kind, issues: [{ path: ["a", "b"], message: other }] })],
      [TaskError.SubmitRejected, new TaskError.SubmitRejected({ kind, reason: "key-busy", key: other, holder: id })],
      [TaskError.TaskStoreError, new TaskError.TaskStoreError({ operation: kind, detail: other })],
      [TaskError.TaskAborted, new TaskError.TaskAborted({ id, reason: "timeout", detail: other })],
      [TaskError.ResultDecodeError, new TaskError.ResultDecodeError({ id, part: "result", issue: other })]
    ] as const
    for (const [schema, error] of errors) {
      const decoded = roundTrip(schema as Schema.Codec<any, any, never, never>, error)
      assert.strictEqual(decoded.message, error.message)
      assert.strictEqual(decoded._tag, error._tag)
    }
  })

  it("messages say what happened in the fields' words", () => {
    assert.strictEqual(new TaskError.TaskNotFound({ id: "t1" }).message, "no task with id t1")
    assert.strictEqual(
      new TaskError.TaskNotFound({ id: "t1", kindMismatch: { expected: "scan", actual: "sync" } }).message,
      `task t1 is of kind "sync", not "scan"`
    )
    assert.strictEqual(
      new TaskError.InvalidPayload({ kind: "add", issues: [{ path: ["b"], message: "Expected number" }, { path: [], message: "bad" }] }).message,
      `invalid payload for task kind "add": b: Expected number; bad`
    )
    assert.strictEqual(new TaskError.SubmitRejected({ kind: "k", reason: "shutting-down" }).message, "the supervisor is shutting down")
    assert.strictEqual(
      new TaskError.SubmitRejected({ kind: "k", reason: "key-busy", key: "0xabc", holder: "t9" }).message,
      `task t9 already holds key "0xabc"`
    )
    assert.strictEqual(new TaskError.SubmitRejected({ kind: "k", reason: "key-busy" }).message, "another task holds this task's exclusive key")
    assert.strictEqual(
      new TaskError.SubmitRejected({ kind: "k", reason: "key-busy", holder: "t9" }).message,
      "task t9 already holds the exclusive key"
    )
    assert.strictEqual(
      new TaskError.InvalidPayload({ kind: "add", issues: [{ path: ["a", "b", "0"], message: "Expected number" }] }).message,
      `invalid payload for task kind "add": a.b.0: Expected number`
    )
    assert.strictEqual(new TaskError.UnknownTaskKind({ kind: "scan" }).message, `no task kind "scan" is registered`)
    assert.strictEqual(
      new TaskError.TaskStoreError({ operation: "insert", detail: "disk full" }).message,
      "task store insert: disk full"
    )
    assert.strictEqual(new TaskError.TaskAborted({ id: "t1", reason: "timeout", detail: "timed out after 1m" }).message, "timed out after 1m")
    assert.strictEqual(
      new TaskError.ResultDecodeError({ id: "t1", part: "error", issue: "Expected string" }).message,
      "the stored error of task t1 does not decode: Expected string"
    )
  })
})
