import { assert, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { Tasks } from "../src/TaskSupervisor.ts"
import { Add, AddLive, Fail, FailLive, supervisor } from "./fixtures.ts"

it.effect("smoke", () =>
  Effect.gen(function*() {
    const tasks = yield* Tasks
    const handle = yield* tasks.submit(Add, { a: 1, b: 2 })
    assert.strictEqual(yield* handle.join, 3)
    const failed = yield* tasks.submit(Fail, { message: "x" })
    const exit = yield* failed.await
    assert.isTrue(Exit.isFailure(exit))
    const info = yield* failed.info
    assert.strictEqual(info.status, "failed")
    assert.strictEqual(info.reason, "error")
  }).pipe(Effect.provide(supervisor(Layer.mergeAll(AddLive, FailLive)))))
