/**
 * `TaskAccess.layer`'s settings as a library caller gives them: any value as
 * `maxEventStreams` either builds the rules with that limit (a whole number
 * of at least 1), with the default (omitted or `undefined`, as a caller
 * passing on an optional setting of its own gives it), or fails with
 * `InvalidSlotLimit` naming the setting and the value (NaN, infinite,
 * negative, 0, fractional, past the safe integers, not a number at all) —
 * never a defect. Every setting given as `undefined` is its default.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import { CurrentPrincipal, type Principal } from "../src/Principal.ts"
import * as Settings from "../src/Settings.ts"
import * as StreamSlots from "../src/StreamSlots.ts"
import * as TaskAccess from "../src/TaskAccess.ts"
import * as TasksConfig from "../src/TasksConfig.ts"
import { AddLive, supervisor } from "./fixtures.ts"

const alice: Principal = { id: "alice", admin: false }

/** The value a caller gives as `maxEventStreams`, by `pick`: valid, undefined, or one of the bad kinds. */
const given = ({ any, pick, whole }: { readonly pick: number; readonly whole: number; readonly any: number }): unknown =>
  [
    undefined,
    whole,
    any,
    -whole,
    0,
    whole + 0.5,
    Number.NaN,
    whole % 2 === 0 ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY,
    Number.MAX_SAFE_INTEGER + whole * 2,
    String(whole),
    [null, true, {}, [whole]][whole % 4]
  ][pick]

/** Opens all-tasks streams of alice's in `scope` until one is refused (at most `most`): how many were admitted, and the refusal. */
const openUntilRefused = (access: TaskAccess.TaskAccess["Service"], scope: Scope.Scope, most: number) =>
  Effect.gen(function*() {
    for (let admitted = 0; admitted <= most; admitted++) {
      const exit = yield* Effect.exit(access.openChanges().pipe(Effect.provideService(CurrentPrincipal, alice), Scope.provide(scope)))
      if (Exit.isFailure(exit)) return { admitted, refusal: JSON.stringify(exit.cause) }
    }
    return { admitted: most + 1, refusal: "" }
  })

describe("TaskAccess settings as a library caller gives them", () => {
  it.effect.prop(
    "any maxEventStreams builds the rules with that limit, with the default when undefined, or fails with InvalidSlotLimit",
    {
      pick: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10 })),
      whole: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4 })),
      any: Schema.Number
    },
    (input) =>
      Effect.gen(function*() {
        const value = given(input)
        const options = { maxEventStreams: value } as Settings.Given<TaskAccess.TaskAccessConfig>
        const built = yield* Effect.exit(Effect.scoped(Effect.gen(function*() {
          const context = yield* Layer.build(TaskAccess.layer(options).pipe(Layer.provide(supervisor(AddLive))))
          const access = Context.get(context, TaskAccess.TaskAccess)
          // a small limit is the one streams are admitted under; a large one (or the default) is not counted out here
          const limit = typeof value === "number" && value <= 4 ? value : undefined
          if (limit !== undefined) {
            const { admitted, refusal } = yield* openUntilRefused(access, yield* Effect.scope, limit)
            assert.strictEqual(admitted, limit, `maxEventStreams ${value}: admitted`)
            assert.include(refusal, `"limit":${limit}`)
          }
        })))
        const valid = value === undefined || (typeof value === "number" && Number.isSafeInteger(value) && value >= 1)
        if (valid) {
          assert.isTrue(Exit.isSuccess(built), `maxEventStreams ${String(value)} built: ${Exit.isFailure(built) ? built.cause : ""}`)
          return
        }
        assert.deepStrictEqual(built, Exit.fail(new StreamSlots.InvalidSlotLimit({ setting: "maxEventStreams", limit: value })))
        const error = new StreamSlots.InvalidSlotLimit({ setting: "maxEventStreams", limit: value })
        assert.match(error.message, /^maxEventStreams must be a whole number of at least 1, not \S/)
      }),
    { timeout: 60_000 }
  )

  it.effect("every setting given as undefined is its default: a submission is taken and 1000 streams a principal, not 1001", () =>
    Effect.gen(function*() {
      const options = {
        submitLimit: undefined,
        submitWindow: undefined,
        submitBurst: undefined,
        payloadLimit: undefined,
        maxEventStreams: undefined
      } satisfies Settings.Given<TaskAccess.TaskAccessConfig>
      yield* Effect.gen(function*() {
        const access = yield* TaskAccess.TaskAccess
        const handle = yield* access.submit({ kind: "add", payload: { a: 1, b: 2 } }).pipe(Effect.provideService(CurrentPrincipal, alice))
        assert.isString(handle.id)
        const { admitted, refusal } = yield* openUntilRefused(access, yield* Effect.scope, 1000)
        assert.strictEqual(admitted, TaskAccess.defaults.maxEventStreams)
        assert.include(refusal, `"limit":${TaskAccess.defaults.maxEventStreams}`)
      }).pipe(Effect.scoped, Effect.provide(TaskAccess.layer(options).pipe(Layer.provideMerge(supervisor(AddLive)))))
    }), 60_000)

  it("the supervisor's settings given as undefined are their defaults", () => {
    const made = TasksConfig.make({ maxWorkers: undefined, shutdownGracePeriod: undefined, runner: undefined })
    assert.deepStrictEqual(made, TasksConfig.defaults)
  })
})
