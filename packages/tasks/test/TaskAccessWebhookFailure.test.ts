/**
 * A submission with a webhook whose registration fails (the store's write: `TaskStoreError`, REST 503) fails, and
 * no task of it runs on: the caller, told it failed, submits again, and the work would run twice. A kind without an
 * exclusive key has its webhook registered before its task, so the failure leaves no task at all; a keyed kind's
 * (registered after, as it may join a task) interrupts the task this call recorded and leaves a task it joined
 * running. A submission failing after its webhook was registered gives that webhook up, under the id it registered.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Layer, Schema } from "effect"
import { CurrentPrincipal } from "../src/Principal.ts"
import * as SubmitWebhooks from "../src/SubmitWebhooks.ts"
import * as Task from "../src/Task.ts"
import * as TaskAccess from "../src/TaskAccess.ts"
import { TaskStoreError } from "../src/TaskError.ts"
import { Tasks } from "../src/Tasks.ts"
import { gateLive, supervisor } from "./fixtures.ts"

/** A keyed kind that joins the task holding its key, each task waiting for the test to open `held`. */
const Keyed = Task.define("keyed-gate", {
  payload: Schema.Struct({ key: Schema.String }),
  success: Schema.Void,
  policy: { key: ({ key }) => key, onConflict: "join" }
})

const failing = new TaskStoreError({ operation: "webhooks insert", detail: "the table is gone" })
const alice = { id: "alice", admin: false }
const hook = "https://hooks.example.com/done"

/** The access rules over a supervisor running `gate` and `keyed-gate`, with `hooks` as the webhook service. */
const withAccess = <A, E>(
  hooks: SubmitWebhooks.SubmitWebhooksService,
  body: Effect.Effect<A, E, TaskAccess.TaskAccess | Tasks>
) =>
  Effect.gen(function*() {
    const gates = yield* gateLive
    const held = yield* Deferred.make<void>()
    const keyedLive = Task.implement(Keyed, () => Deferred.await(held))
    return yield* body.pipe(
      Effect.provide(TaskAccess.layer().pipe(Layer.provideMerge(supervisor(Layer.merge(gates.layer, keyedLive))))),
      Effect.provideService(SubmitWebhooks.SubmitWebhooks, hooks)
    )
  })

describe("a submission whose webhook cannot be registered", () => {
  it.live("of a kind without a key fails with the store's error, and no task was ever recorded", () =>
    withAccess(
      { check: (url) => Effect.succeed(new URL(url)), register: () => Effect.fail(failing), abandon: () => Effect.void },
      Effect.gen(function*() {
        const access = yield* TaskAccess.TaskAccess
        const tasks = yield* Tasks
        const exit = yield* Effect.exit(
          access.submit({ kind: "gate", payload: { id: "never" }, webhook: hook }).pipe(Effect.provideService(CurrentPrincipal, alice))
        )
        assert.deepStrictEqual(exit, Exit.fail(failing))
        assert.deepStrictEqual((yield* tasks.list({})).items, [])
      })
    ), 30_000)

  it.live("of a keyed kind fails with the store's error: the task it recorded is interrupted, a task it joined runs on", () => {
    let registerFails = false
    return withAccess(
      {
        check: (url) => Effect.succeed(new URL(url)),
        register: () => registerFails ? Effect.fail(failing) : Effect.void,
        abandon: () => Effect.void
      },
      Effect.gen(function*() {
        const access = yield* TaskAccess.TaskAccess
        const tasks = yield* Tasks
        const submit = (key: string) =>
          Effect.exit(access.submit({ kind: "keyed-gate", payload: { key }, webhook: hook }).pipe(Effect.provideService(CurrentPrincipal, alice)))
        // A running task holding key "joined", its webhook registered.
        const holder = yield* submit("joined")
        assert.isTrue(Exit.isSuccess(holder))
        registerFails = true
        assert.deepStrictEqual(yield* submit("joined"), Exit.fail(failing))
        assert.deepStrictEqual(yield* submit("own"), Exit.fail(failing))
        const byKey = new Map((yield* tasks.list({})).items.map((info) => [(info.payload as { key: string }).key, info.status]))
        assert.strictEqual(byKey.size, 2)
        assert.notStrictEqual(byKey.get("joined"), "interrupted")
        assert.strictEqual(byKey.get("own"), "interrupted")
      })
    )
  }, 30_000)
})

describe("a submission failing after its webhook was registered", () => {
  it.live("gives the webhook up under the id it registered, and records no task", () => {
    const registered: Array<string> = []
    const abandoned: Array<string> = []
    return withAccess(
      {
        check: (url) => Effect.succeed(new URL(url)),
        register: (taskId) => Effect.sync(() => void registered.push(taskId)),
        abandon: (taskId) => Effect.sync(() => void abandoned.push(taskId))
      },
      Effect.gen(function*() {
        const access = yield* TaskAccess.TaskAccess
        const tasks = yield* Tasks
        const refused = yield* Effect.flip(
          access.submit({ kind: "gate", payload: { id: 42 }, webhook: hook }).pipe(Effect.provideService(CurrentPrincipal, alice))
        )
        assert.strictEqual(refused._tag, "InvalidPayload")
        assert.strictEqual(registered.length, 1)
        assert.deepStrictEqual(abandoned, registered)
        assert.deepStrictEqual((yield* tasks.list({})).items, [])
      })
    )
  }, 30_000)
})
