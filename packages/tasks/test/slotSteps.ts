/**
 * What the per-principal stream limits' tests share: two principals, the
 * refusal an opening failed with (its message checked against its fields),
 * and a property's steps — streams opened and ended by either principal in
 * any order — played against a limit.
 */
import { assert } from "@effect/vitest"
import { Effect, Exit, Schema, Scope } from "effect"
import { CurrentPrincipal, type Principal } from "../src/Principal.ts"
import * as TaskAccessError from "../src/TaskAccessError.ts"

/** The two principals the steps use. */
export const principals: Record<string, Principal> = { alice: { id: "alice", admin: false }, bob: { id: "bob", admin: false } }

/** Runs `effect` as principal `who`. */
export const as = (who: string) => Effect.provideService(CurrentPrincipal, principals[who]!)

/**
 * The refusal an opening failed with, as a plain object (what a transport would encode); its message, the error's
 * and its reason's alike, is checked to say the same as its fields, naming the `streams` it counts.
 */
export const reasonOf = (exit: Exit.Exit<unknown, unknown>, streams: string) => {
  const failure = Exit.isFailure(exit) ? exit.cause.reasons.find((reason) => reason._tag === "Fail") : undefined
  assert.isDefined(failure, "expected a refusal")
  const error = (failure as { readonly error: TaskAccessError.TaskAccessError }).error
  assert.instanceOf(error, TaskAccessError.TaskAccessError)
  const reason = error.reason as TaskAccessError.TooManyEventStreams | TaskAccessError.TooManyTaskStreams
  const says = `principal "${reason.principal}" has ${reason.open} ${streams} open and may hold at most ${reason.limit}; close one before opening another`
  assert.strictEqual(reason.message, says)
  assert.strictEqual(error.message, says)
  return JSON.parse(JSON.stringify(reason))
}

/** A property's inputs: a limit, and steps of either principal opening a stream or ending one it holds. */
export const stepFields = {
  limit: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4 })),
  steps: Schema.Array(Schema.Struct({
    who: Schema.Literals(["alice", "bob"]),
    /** `open` a stream; `end` one of the principal's (the `pick`th, modulo how many it holds). */
    op: Schema.Literals(["open", "open", "end"]),
    pick: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 7 }))
  })).check(Schema.isMaxLength(24))
}

/**
 * Plays `steps`: each opening (`open`, in a scope of its own) is admitted exactly while its principal holds fewer
 * than `limit`, else refused with `refusal` naming its count; `after` checks each step's outcome. Ends every stream
 * still open.
 */
export const play = <E, R>(options: {
  readonly limit: number
  readonly steps: typeof stepFields.steps.Type
  readonly open: (who: string) => Effect.Effect<unknown, unknown, Scope.Scope | R>
  readonly refusal: "TooManyEventStreams" | "TooManyTaskStreams"
  readonly streams: string
  readonly after?: (who: string, held: number) => void
}): Effect.Effect<void, E, R> =>
  Effect.gen(function*() {
    const { limit } = options
    const open: Record<string, Array<Scope.Closeable>> = { alice: [], bob: [] }
    for (const { op, pick, who } of options.steps) {
      const held = open[who]!
      if (op === "end") {
        if (held.length === 0) continue
        const [scope] = held.splice(pick % held.length, 1)
        yield* Scope.close(scope!, Exit.void)
        continue
      }
      const scope = yield* Scope.make()
      const exit = yield* Effect.exit(options.open(who).pipe(Scope.provide(scope)))
      if (held.length < limit) {
        assert.isTrue(Exit.isSuccess(exit), `${who} holds ${held.length} of ${limit}: admitted`)
        held.push(scope)
      } else {
        assert.deepStrictEqual(reasonOf(exit, options.streams), { _tag: options.refusal, principal: who, limit, open: held.length })
        yield* Scope.close(scope, Exit.void)
      }
      options.after?.(who, held.length)
    }
    for (const scope of [...open.alice!, ...open.bob!]) yield* Scope.close(scope, Exit.void)
  })
