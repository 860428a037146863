import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Metric, Schema, Stream } from "effect"
import { CurrentPrincipal, type Principal } from "../src/Principal.ts"
import * as Task from "../src/Task.ts"
import * as SubmitWebhooks from "../src/SubmitWebhooks.ts"
import * as TaskAccess from "../src/TaskAccess.ts"
import type * as TaskQuery from "../src/TaskQuery.ts"
import { AddLive, supervisor } from "./fixtures.ts"

/** A kind whose tasks hold an exclusive key until interrupted; a second submission with the key is rejected. */
const Held = Task.define("held", {
  payload: Schema.Struct({ key: Schema.String }),
  success: Schema.Void,
  policy: { key: ({ key }) => key, onConflict: "reject" }
})
const HeldLive = Task.implement(Held, () => Effect.never)

const access = (config: Partial<TaskAccess.TaskAccessConfig> = {}) =>
  TaskAccess.layer(config).pipe(Layer.provideMerge(supervisor(Layer.merge(AddLive, HeldLive))))

const alice: Principal = { id: "alice", admin: false }
const bob: Principal = { id: "bob", admin: false }
const root: Principal = { id: "root", admin: true }

/** Runs `effect` as `principal`. */
const as = (principal: Principal) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, CurrentPrincipal, principal)

/** The error an effect failed with, as a plain object (what a transport would encode), with `id` written `<id>`. */
const refusal = <A, E, R>(effect: Effect.Effect<A, E, R>, id: string) =>
  Effect.map(Effect.exit(effect), (exit) => {
    assert.isTrue(Exit.isFailure(exit))
    const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
    assert.isDefined(error)
    const failure = (error as { readonly error: { readonly message: string } }).error
    const json = JSON.stringify({ ...failure, message: failure.message })
    return JSON.parse(id === "" ? json : json.replaceAll(id, "<id>"))
  })

/** The deepest payload the nesting property tries. */
const maxNesting = 20_000

/**
 * JSON values nested 0 to `maxNesting` arrays and objects deep, each wrapping the one before: `nestings[d]` is `d`
 * deep. Made once for every run (built anew per run, they were half of the property's time); runs may share them, as
 * nothing writes to a payload.
 */
const nestings: ReadonlyArray<unknown> = (() => {
  const values: Array<unknown> = [0]
  for (let i = 0; i < maxNesting; i++) values.push(i % 2 === 0 ? [values[i]] : { v: values[i] })
  return values
})()

describe("TaskAccess", () => {
  it.effect("another principal's task is answered exactly as a missing one, and is left running", () =>
    Effect.gen(function*() {
      const tasks = yield* TaskAccess.TaskAccess
      const held = yield* as(alice)(tasks.submit({ kind: "held", payload: { key: "k1" } }))
      const missing = "01a00000-0000-7000-8000-000000000000"
      const operations = [
        (id: string) => tasks.get(id),
        (id: string) => tasks.awaitInfo(id),
        (id: string) => tasks.interrupt(id),
        (id: string) => tasks.delete(id),
        (id: string) => Stream.runDrain(tasks.watch(id))
      ]
      for (const operation of operations) {
        const foreign = yield* refusal(as(bob)(operation(held.id)), held.id)
        const absent = yield* refusal(as(bob)(operation(missing)), missing)
        assert.deepStrictEqual(foreign, absent)
        assert.strictEqual(foreign._tag, "TaskNotFound")
      }
      assert.strictEqual((yield* as(alice)(tasks.get(held.id))).status, "running")
      assert.strictEqual((yield* as(root)(tasks.get(held.id))).owner, "alice")
      assert.deepStrictEqual((yield* as(bob)(tasks.list({}))).items, [])
      yield* as(root)(tasks.interrupt(held.id))
    }).pipe(Effect.provide(access())))

  it.effect("a submission refused over another principal's key names no task of theirs", () =>
    Effect.gen(function*() {
      const tasks = yield* TaskAccess.TaskAccess
      const held = yield* as(alice)(tasks.submit({ kind: "held", payload: { key: "wallet" } }))
      for (const onConflict of ["reject", "join"] as const) {
        const refused = yield* refusal(as(bob)(tasks.submit({ kind: "held", payload: { key: "wallet" }, onConflict })), held.id)
        assert.strictEqual(refused._tag, "SubmitRejected")
        assert.strictEqual(refused.reason, "key-busy")
        assert.notInclude(JSON.stringify(refused), "<id>")
      }
      // its own task may be named to its owner
      const own = yield* refusal(as(alice)(tasks.submit({ kind: "held", payload: { key: "wallet" } })), held.id)
      assert.strictEqual(own.holder, "<id>")
      assert.strictEqual((yield* as(alice)(tasks.submit({ kind: "held", payload: { key: "wallet" }, onConflict: "join" }))).id, held.id)
      assert.deepStrictEqual((yield* as(bob)(tasks.list({}))).items, [])
      yield* as(alice)(tasks.interrupt(held.id))
    }).pipe(Effect.provide(access())))

  it.effect("invalid submissions do not use up the quota; valid ones past it are refused with the wait", () =>
    Effect.gen(function*() {
      const tasks = yield* TaskAccess.TaskAccess
      for (let i = 0; i < 5; i++) {
        const invalid = yield* refusal(as(alice)(tasks.submit({ kind: "add", payload: { a: "one", b: 2 } })), "")
        assert.strictEqual(invalid._tag, "InvalidPayload")
        const unknown = yield* refusal(as(alice)(tasks.submit({ kind: "nope", payload: {} })), "")
        assert.strictEqual(unknown._tag, "UnknownTaskKind")
      }
      yield* as(alice)(tasks.submit({ kind: "add", payload: { a: 1, b: 2 } }))
      yield* as(alice)(tasks.submit({ kind: "add", payload: { a: 1, b: 2 } }))
      const over = yield* refusal(as(alice)(tasks.submit({ kind: "add", payload: { a: 1, b: 2 } })), "")
      assert.deepInclude(over.reason, { _tag: "QuotaExceeded", principal: "alice", limit: 2, windowMillis: 3_600_000 })
      assert.isAbove(over.reason.retryAfterMillis, 0)
      assert.strictEqual((yield* as(alice)(tasks.list({}))).items.length, 2)
      // bob has a bucket of his own
      yield* as(bob)(tasks.submit({ kind: "add", payload: { a: 1, b: 2 } }))
    }).pipe(Effect.provide(access({ submitLimit: 2, submitWindow: "1 hour", submitBurst: 2 }))))

  // One supervisor for every run of the property (a layer built once, not one supervisor and test clock per run: those
  // builds were most of its time); each run counts the records before and after its own submission.
  layer(access({ payloadLimit: { maxBytes: 1_000_000, maxDepth: 8 } }))((it) => {
    it.effect.prop(
      "a payload nested deeper than the limit is refused before anything recurses over it, and nothing is recorded",
      { depth: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: maxNesting })) },
      ({ depth }) =>
        Effect.gen(function*() {
          const tasks = yield* TaskAccess.TaskAccess
          const recorded = Effect.map(as(root)(tasks.count({})), (counts) => Object.values(counts).reduce((a, b) => a + b, 0))
          const before = yield* recorded
          const exit = yield* Effect.exit(as(alice)(tasks.submit({ kind: "add", payload: { a: 1, b: 2, extra: nestings[depth] } })))
          const added = (yield* recorded) - before
          if (depth + 1 <= 8) return Exit.isSuccess(exit) && added === 1
          const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
          const reason = (error as any)?.error?.reason
          return reason?._tag === "PayloadTooDeep" && reason.limit === 8 && reason.depth > 8 && added === 0
        })
    )
  })

  it.effect("a payload larger than the limit is refused, naming its size and the limit", () =>
    Effect.gen(function*() {
      const tasks = yield* TaskAccess.TaskAccess
      const big = yield* refusal(as(alice)(tasks.submit({ kind: "add", payload: { a: 1, b: 2, pad: "x".repeat(300) } })), "")
      assert.deepInclude(big.reason, { _tag: "PayloadTooLarge", limit: 200 })
      assert.isAbove(big.reason.size, 200)
      assert.strictEqual((yield* as(root)(tasks.list({}))).items.length, 0)
    }).pipe(Effect.provide(access({ payloadLimit: { maxBytes: 200, maxDepth: 32 } }))))

  it.effect("only an admin lists another owner's tasks or purges", () =>
    Effect.gen(function*() {
      const tasks = yield* TaskAccess.TaskAccess
      yield* as(alice)(tasks.submit({ kind: "add", payload: { a: 1, b: 2 } }))
      const others = yield* refusal(as(bob)(tasks.list({ owner: "alice" })), "")
      assert.deepStrictEqual(others.reason, { _tag: "Forbidden", principal: "bob", operation: "list-others" })
      const purge = yield* refusal(as(alice)(tasks.purge({})), "")
      assert.deepStrictEqual(purge.reason, { _tag: "Forbidden", principal: "alice", operation: "purge" })
      assert.strictEqual((yield* as(root)(tasks.list({ owner: "alice" }))).items.length, 1)
    }).pipe(Effect.provide(access())))

  it.effect("counts are the caller's own tasks (an admin's, everyone's); another owner's count is refused", () =>
    Effect.gen(function*() {
      const tasks = yield* TaskAccess.TaskAccess
      yield* as(alice)(tasks.submit({ kind: "add", payload: { a: 1, b: 2 } }))
      yield* as(alice)(tasks.submit({ kind: "add", payload: { a: 2, b: 2 } }))
      yield* as(bob)(tasks.submit({ kind: "add", payload: { a: 3, b: 2 } }))
      const total = (counts: TaskQuery.TaskCounts) => Object.values(counts).reduce((a, b) => a + b, 0)
      assert.strictEqual(total(yield* as(alice)(tasks.count({}))), 2)
      assert.strictEqual(total(yield* as(bob)(tasks.count({}))), 1)
      assert.strictEqual(total(yield* as(root)(tasks.count({}))), 3)
      const others = yield* refusal(as(bob)(tasks.count({ owner: "alice" })), "")
      assert.deepStrictEqual(others.reason, { _tag: "Forbidden", principal: "bob", operation: "list-others" })
    }).pipe(Effect.provide(access())))

  it.effect("without a webhook service, a submission naming a webhook is refused and nothing is recorded", () =>
    Effect.gen(function*() {
      const tasks = yield* TaskAccess.TaskAccess
      const refused = yield* refusal(as(alice)(tasks.submit({ kind: "add", payload: { a: 1, b: 2 }, webhook: "https://example.com/hook" })), "")
      assert.deepStrictEqual([refused._tag, refused.reason], ["WebhookRefused", "not-configured"])
      assert.strictEqual((yield* as(alice)(tasks.list({}))).items.length, 0)
    }).pipe(Effect.provide(access())))

  const registered: Array<[string, string]> = []
  const hooks: SubmitWebhooks.SubmitWebhooksService = {
    check: (url) =>
      url.startsWith("https://") ? Effect.succeed(new URL(url)) : Effect.fail(new SubmitWebhooks.WebhookRefused({ url, reason: "scheme" })),
    register: (taskId, url) => Effect.sync(() => void registered.push([taskId, url.href])),
    abandon: () => Effect.void
  }
  it.effect("with one, the webhook is checked before anything is submitted and registered for the recorded task", () =>
    Effect.gen(function*() {
      const tasks = yield* TaskAccess.TaskAccess
      const submitted = yield* as(alice)(tasks.submit({ kind: "add", payload: { a: 1, b: 2 }, webhook: "https://example.com/hook" }))
      assert.deepStrictEqual(registered, [[submitted.id, "https://example.com/hook"]])
      const scheme = yield* refusal(as(alice)(tasks.submit({ kind: "add", payload: { a: 1, b: 2 }, webhook: "ftp://x" })), "")
      assert.strictEqual(scheme.reason, "scheme")
      assert.strictEqual((yield* as(alice)(tasks.list({}))).items.length, 1)
    }).pipe(Effect.provide(access().pipe(Layer.provide(Layer.succeed(SubmitWebhooks.SubmitWebhooks, hooks))))))

  it.effect("a submission refused over the quota counts once in the rate-limited metric, under its principal", () =>
    Effect.gen(function*() {
      const tasks = yield* TaskAccess.TaskAccess
      // A principal of this test's own: the metric is the process's, other tests' refusals count in it too.
      const carol: Principal = { id: "carol-rate-limited-metric", admin: false }
      const counted = Effect.map(
        Metric.value(Metric.withAttributes(TaskAccess.quotaExceeded, { principal: carol.id })),
        (state) => state.count
      )
      const before = yield* counted
      yield* as(carol)(tasks.submit({ kind: "add", payload: { a: 1, b: 2 } }))
      assert.strictEqual(yield* counted, before)
      yield* Effect.flip(as(carol)(tasks.submit({ kind: "add", payload: { a: 1, b: 2 } })))
      assert.strictEqual(yield* counted, before + 1)
    }).pipe(Effect.provide(access({ submitLimit: 1, submitWindow: "1 hour", submitBurst: 1 }))))
})
