/**
 * `TaskInfo.jsonText`: a record's JSON text is its Schema's JSON encoding,
 * stringified, made once per record object (a second call answers from the
 * first, without encoding again); a value that does not encode has none.
 * A record the encoding passes through unchanged is written without the
 * Schema's parser: the text must be the Schema's, byte for byte, for any
 * record, and a record it would change or refuse must still go to it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import * as TaskFeed from "../src/TaskFeed.ts"
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

  it("checks every field of TaskInfo, in its order, on the path without the Schema's parser", () => {
    assert.deepStrictEqual(TaskInfo.plainFields.map(([key]) => key), Object.keys(TaskInfo.TaskInfo.fields))
  })

  it("passes every field of a record the supervisor makes, set or null, to the path without the Schema's parser", () => {
    // A field check that refused such a value would send every record to the Schema's parser: the same text, slower.
    const fresh = record()
    const failed = record({
      status: "failed",
      reason: "error",
      priority: -2,
      key: "address-1",
      owner: "alice",
      attempt: 3,
      progress: 40,
      message: "scanning",
      detail: { block: 7 },
      result: [1, "two"],
      error: { _tag: "Refused" },
      errorMessage: "refused",
      checkpoint: 12,
      startedAt: 2_000,
      finishedAt: 3_000,
      heartbeatAt: 2_500,
      expiresAt: 90_000,
      timeoutMillis: 5_000,
      heartbeatTimeoutMillis: 1_000,
      retries: 2,
      runner: "127.0.0.1:7000"
    })
    for (const info of [fresh, failed]) {
      for (const [key, check, optional] of TaskInfo.plainFields) {
        if (optional && !(key in info)) continue
        assert.isTrue(check(info[key]), `${key}: ${JSON.stringify(info[key])}`)
      }
    }
  })

  it("writes a plain record asking it for each field once, and whether each optional one is there: not through the Schema's parser", () => {
    // The Schema's parser asks again, and asks whether every field is there (`in`) before reading it: the same text.
    for (const plain of [record(), record({ timeoutMillis: 5, heartbeatTimeoutMillis: 6, retries: 1, runner: "127.0.0.1:1" })]) {
      const asked: Array<string> = []
      const traced = new Proxy(plain, {
        get: (target, key, receiver) => {
          asked.push(`get ${String(key)}`)
          return Reflect.get(target, key, receiver)
        },
        has: (target, key) => {
          asked.push(`has ${String(key)}`)
          return Reflect.has(target, key)
        }
      })
      assert.strictEqual(TaskInfo.jsonText(traced), JSON.stringify(encode(plain)))
      const once = TaskInfo.plainFields.flatMap(([key, , optional]) =>
        !optional ? [`get ${key}`] : key in plain ? [`has ${key}`, `get ${key}`] : [`has ${key}`]
      )
      assert.deepStrictEqual(asked, once)
    }
  })

  it.prop("is the Schema's text for any record the Schema makes, with JSON values in its open fields", {
    info: Schema.Struct({
      ...TaskInfo.TaskInfo.fields,
      detail: Schema.Json,
      payload: Schema.Json,
      result: Schema.Json,
      error: Schema.Json,
      checkpoint: Schema.Json
    })
  }, ({ info }) => {
    const text = TaskInfo.jsonText(info as TaskInfo.TaskInfo)
    assert.strictEqual(text, JSON.stringify(encode(info as TaskInfo.TaskInfo)))
  })

  it.prop("is the Schema's text, or none where the Schema refuses, for any record with anything in its open fields", {
    info: TaskInfo.TaskInfo
  }, ({ info }) => {
    const encoded = Schema.encodeExit(Schema.toCodecJson(TaskInfo.TaskInfo))(info)
    assert.strictEqual(TaskInfo.jsonText(info), encoded._tag === "Success" ? JSON.stringify(encoded.value) : undefined)
  })

  it("leaves to the Schema what it writes otherwise or refuses: a number that is not finite, a key it does not know, a cycle", () => {
    // The Schema writes a number that is not finite as a string.
    const infinite = record({ createdAt: Number.POSITIVE_INFINITY, priority: Number.NaN })
    assert.strictEqual(TaskInfo.jsonText(infinite), JSON.stringify(encode(infinite)))
    assert.include(TaskInfo.jsonText(infinite), "\"createdAt\":\"Infinity\"")
    // A key that is not a field is left out; the optional fields are written where present, in their place.
    const extra = { ...record({ timeoutMillis: 5, runner: "127.0.0.1:1" }), unknownField: 1 } as TaskInfo.TaskInfo
    assert.strictEqual(TaskInfo.jsonText(extra), JSON.stringify(encode(extra)))
    assert.notInclude(TaskInfo.jsonText(extra), "unknownField")
    // An optional field the record inherits is written, as the Schema writes it.
    const inherited = Object.assign(Object.create({ retries: 3 }), record()) as TaskInfo.TaskInfo
    assert.strictEqual(TaskInfo.jsonText(inherited), JSON.stringify(encode(inherited)))
    assert.include(TaskInfo.jsonText(inherited), "\"retries\":3")
    // A payload that is not a JSON value (a cycle, a Date) does not encode.
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    assert.isUndefined(TaskInfo.jsonText(record({ payload: cyclic })))
    assert.isUndefined(TaskInfo.jsonText(record({ result: new Date(0) })))
  })

  it("leaves a feed change whose record does not encode to the Schema's encoding, which says why: no `data: undefined` frame", () => {
    const change = new TaskFeed.Change(1, "1", record({ status: "lost" as TaskInfo.TaskStatus }))
    assert.throws(() => change.sseText, /Expected "pending" \| "running"/)
  })

  it("is undefined for a value that does not encode", () => {
    const bad = record({ status: "lost" as TaskInfo.TaskStatus })
    assert.isUndefined(TaskInfo.jsonText(bad))
    assert.isUndefined(TaskInfo.jsonText(bad))
    // a text field holding another value (a record read from elsewhere, cast): not passed through as it is
    assert.isUndefined(TaskInfo.jsonText(record({ id: 7 as unknown as string })))
  })

  it("checks an optional field where it is present: a timeout or retries that is not finite goes to the Schema, which writes it as a string; a runner that is no text is refused", () => {
    const notFinite = [
      record({ timeoutMillis: Number.POSITIVE_INFINITY }),
      record({ heartbeatTimeoutMillis: Number.NaN }),
      record({ retries: Number.NEGATIVE_INFINITY })
    ]
    for (const info of notFinite) assert.strictEqual(TaskInfo.jsonText(info), JSON.stringify(encode(info)))
    assert.include(TaskInfo.jsonText(notFinite[0]!), "\"timeoutMillis\":\"Infinity\"")
    assert.isUndefined(TaskInfo.jsonText(record({ runner: 7 as unknown as string })))
  })
})
