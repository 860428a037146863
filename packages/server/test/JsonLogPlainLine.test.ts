/**
 * `JsonLog.plainLine`: an entry with one plain message, no cause, no log
 * spans and plain annotations (the task log's lines) is written without
 * `Logger.formatJson`, as the very text it writes; any other entry is left
 * to it (`undefined`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Logger } from "effect"
import * as JsonLog from "../src/JsonLog.ts"
import { logEvent } from "../src/TaskLog.ts"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"

/** What `plainLine` and `Logger.formatJson` make of each entry `effect` logs, at the time it is logged. */
const entries = (effect: Effect.Effect<unknown>): Array<{ readonly plain: string | undefined; readonly json: string; readonly message: unknown }> => {
  const caught: Array<{ readonly plain: string | undefined; readonly json: string; readonly message: unknown }> = []
  const logger = Logger.make((options) =>
    void caught.push({ plain: JsonLog.plainLine(options), json: Logger.formatJson.log(options), message: options.message })
  )
  Effect.runSync(effect.pipe(Effect.provide(Logger.layer([logger]))))
  return caught
}

/** Each entry was written without `Logger.formatJson`, as the very text it writes. */
const assertPlain = (logged: ReturnType<typeof entries>, count: number) => {
  assert.strictEqual(logged.length, count)
  for (const { json, plain } of logged) {
    assert.isDefined(plain)
    assert.strictEqual(plain, json)
  }
}

describe("JsonLog.plainLine", () => {
  it("writes the task log's lines as Logger.formatJson does", () => {
    const submitted = record({ owner: "alice" })
    const failed = record({ status: "failed", reason: "error", errorMessage: "refused \"x\"\n", attempt: 2, startedAt: 10, finishedAt: 250 })
    const logged = entries(Effect.all([
      logEvent({ _tag: "Submitted", info: submitted } as never),
      logEvent({ _tag: "Finished", info: failed } as never)
    ]))
    assertPlain(logged, 2)
  })

  it("writes plain entries as Logger.formatJson does: strings, numbers and booleans annotated, one message given alone", () => {
    const logged = entries(Effect.all([
      Effect.logInfo("one"),
      Effect.logWarning("two").pipe(Effect.annotateLogs({ n: -0, big: 1e21, ok: false, text: "é\u2028\"" })),
      Effect.logError("three").pipe(Effect.annotateLogs({ empty: "" }))
    ]))
    assertPlain(logged, 3)
  })

  it("leaves to Logger.formatJson an entry with a cause, log spans, several messages, a message or annotation not plain", () => {
    const logged = entries(Effect.all([
      Effect.logWarning("with a cause", Cause.fail("boom")),
      Effect.logInfo("in a span").pipe(Effect.withLogSpan("span")),
      Effect.logInfo("first", "second"),
      Effect.logInfo({ structured: true }),
      Effect.logInfo("object").pipe(Effect.annotateLogs({ detail: { a: 1 } })),
      Effect.logInfo("not finite").pipe(Effect.annotateLogs({ n: Number.NaN })),
      Effect.logInfo("nothing").pipe(Effect.annotateLogs({ u: undefined }))
    ]))
    assert.strictEqual(logged.length, 7)
    for (const { message, plain } of logged) assert.isUndefined(plain, JSON.stringify(message))
  })
})
