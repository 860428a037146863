/**
 * The edges of what a submission may ask for: time limits from 1 ms (0 is
 * refused), retries from 0 to 1000 (1001 is refused), each refusal's
 * message naming the value; a record carries only the limits its submission
 * set. Schedules and daemons of a kind not registered are refused at once.
 * A task that must wait is announced (`Submitted`) and followed as pending,
 * like one that starts at once. A stored task of a kind this process does
 * not know can still be awaited: it reads as interrupted.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Schedule, Schema, Stream } from "effect"
import * as Task from "../src/Task.ts"
import type { InvalidPayload } from "../src/TaskError.ts"
import * as TaskStore from "../src/TaskStore.ts"
import * as Tasks from "../src/Tasks.ts"
import { Add, AddLive, Gate, gateLive, settle, supervisor } from "./fixtures.ts"
import { record } from "./TaskStoreConformance.ts"

/** A kind no supervisor here registers. */
const Unregistered = Task.define("edges-unregistered", { payload: Schema.Struct({ n: Schema.Int }), success: Schema.Int })

const runtime = supervisor(AddLive)

/** The one issue of an InvalidPayload a submission was refused with: its path and message. */
const issueOf = (error: unknown) => {
  assert.strictEqual((error as { readonly _tag: string })._tag, "InvalidPayload")
  const [issue] = (error as InvalidPayload).issues
  return [issue!.path.join("."), issue!.message]
}

describe("submission options at their edges", () => {
  it.effect("time limits from 1 ms are accepted; 0 is refused, naming the value", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      for (const field of ["timeoutMillis", "heartbeatTimeoutMillis"] as const) {
        const accepted = yield* tasks.submit(Add, { a: 1, b: 1 }, { [field]: 1 })
        assert.strictEqual((yield* accepted.info)[field], 1)
        const refused = yield* Effect.flip(tasks.submit(Add, { a: 1, b: 1 }, { [field]: 0 }))
        assert.deepStrictEqual(issueOf(refused), [field, "Expected a positive whole number of milliseconds, got 0"])
      }
    }).pipe(Effect.provide(runtime)))

  it.effect("retries from 0 to 1000 are accepted; 1001 and -1 are refused, naming the value", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      for (const retries of [0, 1000]) assert.strictEqual((yield* (yield* tasks.submit(Add, { a: 1, b: 1 }, { retries })).info).retries, retries)
      for (const retries of [1001, -1]) {
        const refused = yield* Effect.flip(tasks.submit(Add, { a: 1, b: 1 }, { retries }))
        assert.deepStrictEqual(issueOf(refused), ["retries", `Expected a whole number of retries from 0 to 1000, got ${retries}`])
      }
      const priority = yield* Effect.flip(tasks.submit(Add, { a: 1, b: 1 }, { priority: Number.NaN }))
      assert.deepStrictEqual(issueOf(priority), ["priority", "Expected a finite number, got NaN"])
    }).pipe(Effect.provide(runtime)))

  it.effect("a record carries only the limits its submission set", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const keys = (info: object) => ["timeoutMillis", "heartbeatTimeoutMillis", "retries"].filter((key) => key in info)
      const cases = [
        [{ timeoutMillis: 5 }, ["timeoutMillis"]],
        [{ heartbeatTimeoutMillis: 5 }, ["heartbeatTimeoutMillis"]],
        [{ retries: 2 }, ["retries"]],
        [{ priority: 3 }, []]
      ] as const
      for (const [options, expected] of cases) {
        const handle = yield* tasks.submit(Add, { a: 1, b: 1 }, options)
        assert.deepStrictEqual(keys(yield* handle.info), [...expected], JSON.stringify(options))
        yield* handle.await
        const stored = yield* Effect.flatMap(TaskStore.TaskStore, (store) => store.get(handle.id))
        assert.deepStrictEqual(keys(stored.pipe((o) => (o._tag === "Some" ? o.value : {}))), [...expected])
      }
    }).pipe(Effect.provide(runtime)))

  it.effect("a schedule or a daemon of a kind not registered is refused at once", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const scheduled = yield* Effect.flip(tasks.schedule(Unregistered, { n: 1 }, { schedule: Schedule.spaced("1 second") }))
      assert.deepStrictEqual([scheduled._tag, (scheduled as { readonly kind: string }).kind], ["UnknownTaskKind", Unregistered.name])
      const daemon = yield* Effect.flip(tasks.daemon(Unregistered, { n: 1 }, { restart: Schedule.spaced("1 second") }))
      assert.strictEqual(daemon._tag, "UnknownTaskKind")
      // a registered kind with a payload it refuses: refused too
      const invalid = yield* Effect.flip(tasks.schedule(Add, { a: "x" } as never, { schedule: Schedule.spaced("1 second") }))
      assert.strictEqual(invalid._tag, "InvalidPayload")
    }).pipe(Effect.provide(runtime)))
})

describe("waiting and unknown tasks", () => {
  it.effect("a task that must wait is announced as submitted and followed as pending", () =>
    Effect.gen(function*() {
      const gates = yield* gateLive
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const events = yield* Effect.forkChild(
          Stream.runCollect(Stream.take(Stream.filter(tasks.events, (event) => event._tag === "Submitted"), 2)),
          { startImmediately: true }
        )
        const changes = yield* Effect.forkChild(Stream.runCollect(Stream.take(tasks.changes, 3)), { startImmediately: true })
        const first = yield* tasks.submit(Gate, { id: "first" })
        const second = yield* tasks.submit(Gate, { id: "second" })
        yield* settle
        assert.strictEqual((yield* second.info).status, "pending")
        const submitted = yield* Fiber.join(events)
        assert.deepStrictEqual(submitted.map((event) => [event.info.id, event.info.status]), [[first.id, "pending"], [second.id, "pending"]])
        const followed = yield* Fiber.join(changes)
        assert.deepStrictEqual(
          followed.filter((info) => info.id === second.id).map((info) => info.status),
          ["pending"]
        )
        yield* gates.open("first")
        yield* gates.open("second")
        assert.deepStrictEqual(yield* second.await, Exit.succeed("second"))
      }).pipe(Effect.provide(supervisor(gates.layer, { maxWorkers: 1 })))
    }))

  it.effect("a second submission with the id of a task held here is refused and leaves that task in hand", () =>
    Effect.gen(function*() {
      const gates = yield* gateLive
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const first = yield* tasks.submit(Gate, { id: "held" }, { id: "same-id" })
        yield* settle
        assert.strictEqual((yield* first.info).status, "running")
        const refused = yield* Effect.flip(tasks.submit(Gate, { id: "other" }, { id: "same-id" }))
        assert.strictEqual(refused._tag, "TaskStoreError")
        assert.strictEqual(refused.message, "task store insert: task same-id already exists")
        // Still held: an interrupt reaches its fiber.
        yield* tasks.interrupt("same-id")
        const exit = yield* first.await
        assert.isTrue(Exit.isFailure(exit) && Exit.hasInterrupts(exit), `expected an interruption, got ${String(exit)}`)
        assert.strictEqual((yield* first.info).status, "interrupted")
      }).pipe(Effect.provide(supervisor(gates.layer)))
    }))

  it.effect("a stored task of a kind this process does not know reads as interrupted when awaited", () =>
    Effect.gen(function*() {
      const tasks = yield* Tasks.Tasks
      const store = yield* TaskStore.TaskStore
      const foreign = record({ kind: "elsewhere", status: "completed", payload: { n: 1 }, result: 1, finishedAt: 2, expiresAt: 3 })
      yield* store.insert(foreign)
      const handle = yield* tasks.handle(foreign.id)
      assert.strictEqual(handle.kind, "elsewhere")
      const exit = yield* handle.await
      assert.isTrue(Exit.isFailure(exit) && Exit.hasInterrupts(exit))
    }).pipe(Effect.provide(runtime)))
})
