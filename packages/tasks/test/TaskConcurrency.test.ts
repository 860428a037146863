import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Layer, Ref, Schema } from "effect"
import * as Task from "../src/Task.ts"
import { Tasks } from "../src/Tasks.ts"
import { makeGates, settle, supervisor } from "./fixtures.ts"

/** Tasks that record when they start and wait until the test releases them by name. */
const Job = Task.define("job", {
  payload: Schema.Struct({ name: Schema.String, address: Schema.String }),
  success: Schema.String,
  policy: { concurrency: 2 }
})
const Scan = Task.define("scan", {
  payload: Schema.Struct({ name: Schema.String, address: Schema.String }),
  success: Schema.String,
  policy: { key: (payload: { address: string }) => payload.address }
})

const harness = Effect.gen(function*() {
  const started = yield* Ref.make<ReadonlyArray<string>>([])
  const gate = makeGates()
  const handler = ({ name }: { name: string }) =>
    Effect.gen(function*() {
      yield* Ref.update(started, (s) => [...s, name])
      yield* Deferred.await(gate(name))
      return name
    })
  return {
    layer: Layer.mergeAll(Task.implement(Job, handler), Task.implement(Scan, handler)),
    started: Ref.get(started),
    release: (name: string) => Effect.andThen(Deferred.succeed(gate(name), undefined), settle)
  }
})

describe("concurrency", () => {
  it.effect("the global limit holds; waiting tasks start by priority, FIFO within a priority", () =>
    Effect.gen(function*() {
      const h = yield* harness
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        yield* tasks.submit(Scan, { name: "first", address: "a" })
        yield* tasks.submit(Scan, { name: "low-1", address: "b" }, { priority: -1 })
        yield* tasks.submit(Scan, { name: "normal-1", address: "c" })
        yield* tasks.submit(Scan, { name: "high", address: "d" }, { priority: 5 })
        yield* tasks.submit(Scan, { name: "normal-2", address: "e" })
        yield* tasks.submit(Scan, { name: "low-2", address: "f" }, { priority: -1 })
        yield* settle
        assert.deepStrictEqual(yield* h.started, ["first"])
        for (const name of ["first", "high", "normal-1", "normal-2", "low-1"]) yield* h.release(name)
        assert.deepStrictEqual(yield* h.started, ["first", "high", "normal-1", "normal-2", "low-1", "low-2"])
      }).pipe(Effect.provide(supervisor(h.layer, { maxWorkers: 1 })))
    }))

  it.effect("a kind's concurrency limit holds while other kinds run", () =>
    Effect.gen(function*() {
      const h = yield* harness
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        for (const name of ["j1", "j2", "j3"]) yield* tasks.submit(Job, { name, address: name })
        yield* tasks.submit(Scan, { name: "s1", address: "x" })
        yield* settle
        assert.deepStrictEqual(yield* h.started, ["j1", "j2", "s1"])
        yield* h.release("j2")
        assert.deepStrictEqual(yield* h.started, ["j1", "j2", "s1", "j3"])
      }).pipe(Effect.provide(supervisor(h.layer)))
    }))

  it.effect("tasks with one key run one at a time by default (queue)", () =>
    Effect.gen(function*() {
      const h = yield* harness
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        const first = yield* tasks.submit(Scan, { name: "a1", address: "0xa" })
        const second = yield* tasks.submit(Scan, { name: "a2", address: "0xa" })
        yield* tasks.submit(Scan, { name: "b1", address: "0xb" })
        yield* settle
        assert.deepStrictEqual(yield* h.started, ["a1", "b1"])
        assert.strictEqual(yield* second.status, "pending")
        yield* h.release("a1")
        assert.strictEqual(yield* first.status, "completed")
        assert.deepStrictEqual(yield* h.started, ["a1", "b1", "a2"])
      }).pipe(Effect.provide(supervisor(h.layer)))
    }))

  it.effect("on a busy key the caller may reject with a typed error, or join the running task", () =>
    Effect.gen(function*() {
      const h = yield* harness
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        const running = yield* tasks.submit(Scan, { name: "a1", address: "0xa" })
        yield* settle
        const rejected = yield* Effect.flip(tasks.submit(Scan, { name: "a2", address: "0xa" }, { onConflict: "reject" }))
        assert.strictEqual(rejected._tag, "SubmitRejected")
        if (rejected._tag === "SubmitRejected") {
          assert.strictEqual(rejected.reason, "key-busy")
          assert.strictEqual(rejected.holder, running.id)
        }
        const joined = yield* tasks.submit(Scan, { name: "a3", address: "0xa" }, { onConflict: "join" })
        assert.strictEqual(joined.id, running.id)
        assert.strictEqual((yield* tasks.list({})).items.length, 1)
        yield* h.release("a1")
        assert.strictEqual(yield* joined.join, "a1")
        // the key is free again
        const next = yield* tasks.submit(Scan, { name: "a4", address: "0xa" }, { onConflict: "reject" })
        yield* settle
        assert.strictEqual(yield* next.status, "running")
      }).pipe(Effect.provide(supervisor(h.layer)))
    }))

  it.effect("kinds never share keys: the same key in two kinds neither blocks nor joins across them", () =>
    Effect.gen(function*() {
      const h = yield* harness
      const Other = Task.define("other-scan", { payload: Scan.payload, success: Schema.String, policy: { key: (p: { address: string }) => p.address } })
      const layer = Layer.merge(h.layer, Task.implement(Other, ({ name }) => Effect.succeed(name)))
      yield* Effect.gen(function*() {
        const tasks = yield* Tasks
        const scan = yield* tasks.submit(Scan, { name: "s", address: "0xa" })
        const other = yield* tasks.submit(Other, { name: "o", address: "0xa" }, { onConflict: "join" })
        assert.notStrictEqual(other.id, scan.id)
        assert.strictEqual(yield* other.join, "o")
        assert.strictEqual(yield* scan.status, "running")
      }).pipe(Effect.provide(supervisor(layer)))
    }))
})
