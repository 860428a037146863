/**
 * A submission with a webhook whose registration fails (the store's second
 * write: `TaskStoreError`, REST 503) fails, and the task it recorded does not
 * run on: the caller, told it failed, submits again, and the work would run
 * twice. The recorded task of an unkeyed kind is interrupted before the
 * failure is answered.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { CurrentPrincipal } from "../src/Principal.ts"
import * as SubmitWebhooks from "../src/SubmitWebhooks.ts"
import * as TaskAccess from "../src/TaskAccess.ts"
import { TaskStoreError } from "../src/TaskError.ts"
import { Tasks } from "../src/Tasks.ts"
import { gateLive, supervisor } from "./fixtures.ts"

describe("a submission whose webhook cannot be registered", () => {
  it.live("fails with the store's error, and the task it recorded is interrupted, not left running", () =>
    Effect.gen(function*() {
      const gates = yield* gateLive
      const failing = new TaskStoreError({ operation: "webhooks insert", detail: "the table is gone" })
      yield* Effect.gen(function*() {
        const access = yield* TaskAccess.TaskAccess
        const tasks = yield* Tasks
        const exit = yield* Effect.exit(
          access.submit({ kind: "gate", payload: { id: "never" }, webhook: "https://hooks.example.com/done" }).pipe(
            Effect.provideService(CurrentPrincipal, { id: "alice", admin: false })
          )
        )
        assert.deepStrictEqual(exit, Exit.fail(failing))
        const page = yield* tasks.list({})
        assert.strictEqual(page.items.length, 1)
        assert.strictEqual(page.items[0]!.status, "interrupted", JSON.stringify(page.items[0]))
      }).pipe(
        Effect.provide(TaskAccess.layer().pipe(Layer.provideMerge(supervisor(gates.layer)))),
        Effect.provideService(SubmitWebhooks.SubmitWebhooks, {
          check: (url) => Effect.succeed(new URL(url)),
          register: () => Effect.fail(failing)
        })
      )
    }), 30_000)
})
