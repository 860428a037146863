/**
 * The PostgreSQL insert policy on its own, batch by batch: `adaptive` stays
 * plain after one batch meeting an existing id (its weight, an eighth, is
 * under the threshold, a sixth), goes checked after two in a row (or one in
 * eight for long), and plain again once enough clean batches brought the
 * running share back under the threshold; a batch's record (`written`)
 * counts when its effect runs, once per run; `plain` and `checked` never
 * change; each turn of `adaptive` is logged with the way it now inserts
 * and the share; an unknown mode fails with a message naming the modes and
 * the value given.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, References } from "effect"
import * as InsertPolicy from "../src/internal/insertPolicy.ts"

/** What `plain()` answers before each batch of `met` (whether each met an existing id), then after the last. */
const answers = (policy: InsertPolicy.InsertPolicy, met: ReadonlyArray<boolean>) =>
  Effect.gen(function*() {
    const plain = [policy.plain()]
    for (const metExisting of met) {
      yield* policy.written(metExisting)
      plain.push(policy.plain())
    }
    return plain
  })

describe("insert policy", () => {
  it.effect("adaptive (the default): plain after one batch meeting an existing id, checked after two, plain after three clean ones", () =>
    Effect.gen(function*() {
      // The share: 1/8 (0.125), 15/64 (0.234), then × 7/8 a clean batch: 0.205, 0.179, 0.157 (under 1/6 again).
      const plain = yield* answers(yield* InsertPolicy.make(), [true, true, false, false, false])
      assert.deepStrictEqual(plain, [true, true, false, false, false, true])
    }))

  it.effect("adaptive: a batch's record moves the share when its effect runs, once per run, not when it is built", () =>
    Effect.gen(function*() {
      const policy = yield* InsertPolicy.make()
      // built twice and never run: still plain after the two batches they would have told
      policy.written(true)
      policy.written(true)
      assert.isTrue(policy.plain())
      // one effect run twice: two batches meeting an existing id, so checked
      const met = policy.written(true)
      yield* met
      assert.isTrue(policy.plain())
      yield* met
      assert.isFalse(policy.plain())
    }))

  it.effect("adaptive: one batch in sixteen meeting an existing id leaves it plain", () =>
    Effect.gen(function*() {
      // The share peaks at 1/8 / (1 - (7/8)^16) ≈ 0.142 (one in eight would reach 0.190, over 1/6).
      const met = Array.from({ length: 64 }, (_, i) => i % 16 === 0)
      assert.isTrue((yield* answers(yield* InsertPolicy.make("adaptive"), met)).every((plain) => plain))
      const oneInEight = Array.from({ length: 64 }, (_, i) => i % 8 === 0)
      assert.isFalse((yield* answers(yield* InsertPolicy.make("adaptive"), oneInEight)).every((plain) => plain))
    }))

  it.effect("plain and checked answer the same whatever the batches met", () =>
    Effect.gen(function*() {
      const met = [true, true, true, false, true]
      assert.deepStrictEqual(yield* answers(yield* InsertPolicy.make("plain"), met), [true, true, true, true, true, true])
      assert.deepStrictEqual(yield* answers(yield* InsertPolicy.make("checked"), met), [false, false, false, false, false, false])
    }))

  it.effect("an unknown mode fails with InsertPolicyConfigError naming the modes and the value", () =>
    Effect.gen(function*() {
      const failure = yield* Effect.flip(InsertPolicy.make("sometimes" as InsertPolicy.InsertMode))
      assert.instanceOf(failure, InsertPolicy.InsertPolicyConfigError)
      assert.strictEqual(failure.value, "sometimes")
      assert.strictEqual(failure.message, "pgInserts must be one of adaptive, plain, checked, not sometimes")
    }))

  it.effect("adaptive logs each turn at info level, annotated with the way it now inserts and the share", () =>
    Effect.gen(function*() {
      const lines: Array<{ readonly message: string; readonly level: string; readonly annotations: Record<string, unknown> }> = []
      const capture = Logger.make(({ fiber, logLevel, message }) => {
        lines.push({
          message: String(Array.isArray(message) ? message[0] : message),
          level: logLevel,
          annotations: { ...fiber.getRef(References.CurrentLogAnnotations) }
        })
      })
      yield* answers(yield* InsertPolicy.make(), [true, true, true, false, false, false, false, false, false]).pipe(
        Effect.provide(Logger.layer([capture]), { local: true })
      )
      // checked at 15/64 after the second batch; 0.330 after the third, then × 7/8 a clean batch: under 1/6 at the sixth
      const checkedAt = 15 / 64
      const plainAt = (checkedAt + (1 - checkedAt) / 8) * (7 / 8) ** 6
      assert.deepStrictEqual(lines.map(({ level, message }) => [level, message]), [
        ["Info", `store-sql: PostgreSQL inserts now checked: ${(checkedAt * 100).toFixed(1)}% of recent batches met an existing id (at or over 16.7%)`],
        ["Info", `store-sql: PostgreSQL inserts now plain: ${(plainAt * 100).toFixed(1)}% of recent batches met an existing id (under 16.7%)`]
      ])
      assert.deepStrictEqual(lines.map(({ annotations }) => annotations.pgInserts), ["checked", "plain"])
      assert.closeTo(lines[0]!.annotations.share as number, checkedAt, 1e-12)
      assert.closeTo(lines[1]!.annotations.share as number, plainAt, 1e-12)
    }))
})
