/**
 * How a run's end is recorded, and read back: a failure or a result the
 * kind's Schemas do not describe is recorded as a `defect` saying so (with
 * the error's name and message, its tag, or its text); a stored result or
 * error that no longer decodes is a `ResultDecodeError` naming the part; a
 * stored defect reads as a death with its message ("task died" without
 * one). A payload's bad fields are named by their path; a stored payload
 * that no longer decodes fails its task as `lost`. Records lost at recovery
 * reach the all-task streams; the streams end when the supervisor shuts
 * down, and one opened meanwhile ends at once. The typed context gives the
 * task's id, and its heartbeat keeps the watchdog away.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Layer, Option, Schema, Scope, Stream } from "effect"
import * as Task from "../src/Task.ts"
import type { InvalidPayload } from "../src/TaskError.ts"
import * as TaskStore from "../src/TaskStore.ts"
import * as Tasks from "../src/Tasks.ts"
import { advance, Boom, settle, startOn, supervisor } from "./fixtures.ts"
import { record } from "./TaskStoreConformance.ts"

/** Fails with whatever its payload says: the kind's Boom, or errors its Schema does not describe. */
const Failing = Task.define("outcome-failing", {
  payload: Schema.Struct({ how: Schema.Literals(["boom", "tagged", "error", "text", "number"]) }),
  success: Schema.Number,
  error: Boom
})
const FailingLive = Task.implement(Failing, ({ how }) => {
  switch (how) {
    case "boom":
      return Effect.fail(new Boom({ message: "typed" }))
    case "tagged":
      return Effect.fail({ _tag: "Elsewhere", detail: 1 } as never)
    case "error":
      return Effect.fail(new RangeError("out of range") as never)
    case "text":
      return Effect.fail("plain text" as never)
    case "number":
      return Effect.fail(42 as never)
  }
})

/** Returns what its payload says, which its success Schema (a number) may not describe. */
const Returning = Task.define("outcome-returning", {
  payload: Schema.Struct({ value: Schema.Unknown }),
  success: Schema.Number
})
const ReturningLive = Task.implement(Returning, ({ value }) => Effect.succeed(value as number))

/** A nested payload, to name bad fields by path. */
const Nested = Task.define("outcome-nested", {
  payload: Schema.Struct({ order: Schema.Struct({ items: Schema.Array(Schema.Struct({ qty: Schema.Int })) }) }),
  success: Schema.Void
})
const NestedLive = Task.implement(Nested, () => Effect.void)

/** Reports its id through the typed context and heartbeats every second, past its kind's heartbeat timeout. */
const Beating = Task.define("outcome-beating", {
  payload: Schema.Struct({ seconds: Schema.Int }),
  success: Schema.String,
  policy: { heartbeatTimeout: "2500 millis" }
})
const BeatingLive = Task.implement(Beating, ({ seconds }, context) =>
  Effect.gen(function*() {
    for (let i = 0; i < seconds; i++) {
      yield* Effect.sleep("1 second")
      yield* context.heartbeat
    }
    return context.taskId
  }))

const runtime = supervisor(Layer.mergeAll(FailingLive, ReturningLive, NestedLive, BeatingLive))

describe("recorded outcomes", () => {
  it.effect("a failure the kind's Schema does not describe is a defect saying so; a described one is the kind's error", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const outcome = (how: "boom" | "tagged" | "error" | "text" | "number") =>
        Effect.gen(function*() {
          const handle = yield* tasks.submit(Failing, { how })
          const exit = yield* handle.await
          const info = yield* handle.info
          return { exit, info }
        })
      const typed = yield* outcome("boom")
      assert.deepStrictEqual([typed.info.status, typed.info.reason], ["failed", "error"])
      assert.deepStrictEqual(typed.info.error, { _tag: "Boom", message: "typed" })
      assert.strictEqual(typed.info.errorMessage, "Boom: typed")
      assert.isTrue(Exit.isFailure(typed.exit) && Option.isSome(Cause.findErrorOption(typed.exit.cause)))
      const prefix = "the handler failed with an error its kind's Schema does not describe: "
      for (const [how, message] of [["tagged", "Elsewhere"], ["error", "RangeError: out of range"], ["text", "plain text"], ["number", "42"]] as const) {
        const { exit, info } = yield* outcome(how)
        assert.deepStrictEqual([info.status, info.reason, info.error, info.errorMessage], ["failed", "defect", null, prefix + message], how)
        assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause), how)
      }
    }).pipe(Effect.provide(runtime)))

  it.effect("a result the kind's Schema does not describe is a defect saying so", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const handle = yield* tasks.submit(Returning, { value: "not a number" })
      yield* handle.await
      const info = yield* handle.info
      assert.deepStrictEqual([info.status, info.reason, info.result], ["failed", "defect", null])
      assert.isTrue(info.errorMessage!.startsWith("the handler's result does not match its kind's Schema: "), info.errorMessage!)
      const fine = yield* tasks.submit(Returning, { value: 7 })
      assert.deepStrictEqual(yield* fine.await, Exit.succeed(7))
    }).pipe(Effect.provide(runtime)))

  it.effect("a stored result or error that no longer decodes is a ResultDecodeError naming the part; a stored defect reads as a death", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const store = yield* TaskStore.TaskStore
      const finished = { finishedAt: 2, expiresAt: 3 }
      const badResult = record({ kind: Returning.name, status: "completed", payload: { value: 1 }, result: "one", ...finished })
      const badError = record({ kind: Failing.name, status: "failed", reason: "error", payload: { how: "boom" }, error: { _tag: "Gone" }, ...finished })
      const died = record({ kind: Returning.name, status: "failed", reason: "defect", payload: { value: 1 }, errorMessage: "it broke", ...finished })
      const diedSilently = record({ kind: Returning.name, status: "failed", reason: "defect", payload: { value: 1 }, ...finished })
      for (const one of [badResult, badError, died, diedSilently]) yield* store.insert(one)
      const awaited = (id: string) => Effect.flatMap(tasks.handle(id), (handle) => Effect.exit(handle.await))
      for (const [one, part] of [[badResult, "result"], [badError, "error"]] as const) {
        const exit = yield* awaited(one.id)
        assert.isTrue(Exit.isFailure(exit))
        const error = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause) as { _tag: string; id: string; part: string; issue: string }
        assert.deepStrictEqual([error._tag, error.id, error.part], ["ResultDecodeError", one.id, part])
        assert.isAbove(error.issue.length, 0)
      }
      for (const [one, message] of [[died, "it broke"], [diedSilently, "task died"]] as const) {
        const exit = yield* awaited(one.id)
        assert.isTrue(Exit.isSuccess(exit))
        const outcome = (exit as Exit.Success<Exit.Exit<unknown, unknown>>).value
        assert.isTrue(Exit.isFailure(outcome) && Cause.hasDies(outcome.cause))
        assert.strictEqual((Cause.squash((outcome as Exit.Failure<unknown, unknown>).cause) as Error).message, message)
      }
    }).pipe(Effect.provide(runtime)))

  it.effect("a payload's bad fields are named by their path, array indexes included", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const refused = yield* Effect.flip(tasks.submitEncoded(Nested.name, { order: { items: [{ qty: 1 }, { qty: "two" }] } }))
      assert.strictEqual(refused._tag, "InvalidPayload")
      assert.deepStrictEqual((refused as InvalidPayload).issues.map((issue) => issue.path), [["order", "items", "1", "qty"]])
    }).pipe(Effect.provide(runtime)))

  it.effect("the typed context gives the task's id, and its heartbeat keeps the watchdog away", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const handle = yield* tasks.submit(Beating, { seconds: 6 })
      yield* settle
      yield* advance(7)
      assert.deepStrictEqual(yield* handle.await, Exit.succeed(handle.id))
    }).pipe(Effect.provide(supervisor(BeatingLive, { heartbeatCheckInterval: "1 second" }))))
})

describe("recovery and shutdown, as the all-task streams tell them", () => {
  it.effect("a stored payload that no longer decodes fails its task as lost, and the all-task streams are told", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const broken = record({ kind: Nested.name, payload: { order: "gone" } })
      yield* store.insert(broken)
      const scope = yield* Scope.make()
      // registered after start: its recovered records are taken as it registers, with streams already open
      const { tasks } = yield* startOn(store, Layer.empty, { shutdownGracePeriod: 0 }).pipe(Scope.provide(scope))
      const changes = yield* Effect.forkChild(Stream.runCollect(Stream.take(tasks.changes, 1)), { startImmediately: true })
      const journal = yield* Effect.forkChild(Stream.runCollect(Stream.take(tasks.changesAndDeletions, 1)), { startImmediately: true })
      yield* Layer.buildWithScope(NestedLive.pipe(Layer.provide(Layer.succeed(Tasks.Tasks, tasks))), scope)
      const lost = Option.getOrThrow(yield* store.get(broken.id))
      assert.deepStrictEqual([lost.status, lost.reason], ["failed", "lost"])
      assert.isTrue(lost.errorMessage!.startsWith("the stored payload no longer decodes: "), lost.errorMessage!)
      assert.deepStrictEqual((yield* Fiber.join(changes)).map((info) => info.id), [broken.id])
      assert.deepStrictEqual((yield* Fiber.join(journal)).map((item) => ("_tag" in item ? item.info.id : item.id)), [broken.id])
      yield* Scope.close(scope, Exit.void)
    }))

  it.effect("the all-task streams end when the supervisor shuts down; one opened meanwhile ends at once", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const { scope, tasks } = yield* startOn(store, BeatingLive, { shutdownGracePeriod: "10 seconds" })
      const handle = yield* tasks.submit(Beating, { seconds: 3 })
      yield* settle
      const follow = <A>(stream: Stream.Stream<A>) => Effect.forkChild(Stream.runCollect(stream), { startImmediately: true })
      const open = [yield* follow(tasks.events), yield* follow(tasks.changes), yield* follow(tasks.changesAndDeletions)]
      // the shutdown waits for the running task (its grace period): streams opened now end at once
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
      yield* settle
      for (const stream of [tasks.events, tasks.changes, tasks.changesAndDeletions]) {
        assert.strictEqual((yield* Stream.runCollect(stream as Stream.Stream<unknown>)).length, 0)
      }
      yield* advance(3)
      yield* Fiber.join(closing)
      assert.deepStrictEqual(yield* handle.await, Exit.succeed(handle.id))
      for (const fiber of open) assert.isAbove((yield* Fiber.join(fiber as Fiber.Fiber<ReadonlyArray<unknown>>)).length, 0)
    }))
})

