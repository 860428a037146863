/**
 * The parts of the supervisor's life (internal/lifecycle.ts) as plain calls: the dormant records (kept once per id
 * until their kind registers, taken once), the recovery of a record that names this runner already (held as it is,
 * no write), the watchdog's skipping of a task with no attempt under way, the retention sweep's warning when a
 * purge fails, and the shutdown telling every task that never started that it is let go.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Logger, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as Task from "../src/Task.ts"
import { TaskStoreError } from "../src/TaskError.ts"
import type { TaskInfo } from "../src/TaskInfo.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { Admission } from "../src/internal/admission.ts"
import { forKind } from "../src/internal/codec.ts"
import { Entry, type Registered } from "../src/internal/entry.ts"
import * as lifecycle from "../src/internal/lifecycle.ts"
import { HeartbeatMissed } from "../src/internal/stop.ts"
import { settle } from "./fixtures.ts"
import { record } from "./TaskStoreConformance.ts"

const Noop = Task.define("lifecycle-noop", { payload: Schema.Struct({}), success: Schema.Void })

const registered: Registered = { kind: Noop, handler: () => Effect.void, codec: forKind(Noop), context: Context.empty() }

/** A record of `Noop` (its payload decodes), pending unless `overrides` say otherwise. */
const noop = (overrides: Partial<TaskInfo> = {}): TaskInfo => record({ kind: Noop.name, payload: {}, ...overrides })

describe("Dormant", () => {
  it.effect("keeps each record once until its kind registers, every record of a kind, and gives them up once", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const first = noop({ kind: "later" })
      yield* store.insert(first)
      const dormant = yield* lifecycle.Dormant.load(store)
      // adopted again before its kind registered: the newer read replaces the one kept
      const again = { ...first, attempt: 2 }
      dormant.add(again)
      const second = noop({ kind: "later" })
      dormant.add(second)
      assert.deepStrictEqual(dormant.take("later"), [again, second])
      assert.deepStrictEqual(dormant.take("later"), [], "taken once: a kind registered again recovers nothing twice")
      assert.isFalse(dormant.drop(first.id), "nothing kept any more")
      const third = noop({ kind: "later" })
      dormant.add(third)
      assert.isTrue(dormant.drop(third.id))
      assert.deepStrictEqual(dormant.take("later"), [])
    }))
})

describe("recover", () => {
  it.effect("holds a pending record naming this runner as it is, and writes nothing", () =>
    Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      const updates: Array<TaskInfo> = []
      const store = TaskStore.TaskStore.of({
        ...memory,
        update: (info) => Effect.andThen(Effect.sync(() => void updates.push(info)), memory.update(info))
      })
      const adopted = noop({ runner: "10.0.0.1:3400" })
      yield* memory.insert(adopted)
      const admitted: Array<Entry> = []
      yield* lifecycle.recover(store, 5_000, registered, adopted, (entry) => void admitted.push(entry), () => {}, "10.0.0.1:3400")
      assert.deepStrictEqual(updates, [], "a pending record waits again as it is stored")
      assert.strictEqual(admitted.length, 1)
      assert.strictEqual(admitted[0]!.info, adopted, "held as adopted: it names this runner already")
    }))
})

describe("watchdog", () => {
  it.effect("leaves a task recorded running alone until its attempt's fiber is there; a silent one with a fiber is stopped", () =>
    Effect.gen(function*() {
      const admission = new Admission<Entry>(4)
      const waiting = new Entry(noop({ heartbeatTimeoutMillis: 100 }), registered, {})
      admission.started(waiting)
      waiting.markRunning(0, false)
      const silent = new Entry(noop({ heartbeatTimeoutMillis: 100 }), registered, {})
      admission.started(silent)
      silent.markRunning(0, false)
      silent.fiber = yield* Effect.forkDetach(Effect.never)
      yield* TestClock.adjust("10 seconds")
      const watching = yield* Effect.forkChild(lifecycle.watchdog(admission, () => 10_000, "1 second"))
      yield* settle
      assert.strictEqual(silent.stoppedBy, HeartbeatMissed)
      assert.isUndefined(waiting.stoppedBy, "no attempt under way: nothing to be silent in")
      yield* Fiber.interrupt(watching)
      yield* Fiber.interrupt(silent.fiber)
    }))
})

describe("retentionSweep", () => {
  it.effect("warns when a purge fails, and sweeps again", () =>
    Effect.gen(function*() {
      const warned: Array<unknown> = []
      const capture = Logger.make(({ message }) => void warned.push((message as ReadonlyArray<unknown>)[0]))
      let purges = 0
      const failing = () =>
        Effect.andThen(
          Effect.sync(() => void purges++),
          Effect.fail(new TaskStoreError({ operation: "purge", detail: "the database is gone" }))
        )
      const sweeping = yield* Effect.forkChild(
        lifecycle.retentionSweep(failing, () => 0, "1 second").pipe(Effect.provide(Logger.layer([capture])))
      )
      yield* settle
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.strictEqual(purges, 2)
      assert.deepStrictEqual(warned, ["chainjobs: retention sweep failed", "chainjobs: retention sweep failed"])
      yield* Fiber.interrupt(sweeping)
    }))
})

describe("shutdown", () => {
  it.effect("lets go of every task that never started, telling each", () =>
    Effect.gen(function*() {
      const admission = new Admission<Entry>(1)
      const queued = [new Entry(noop(), registered, {}), new Entry(noop(), registered, {})]
      for (const entry of queued) {
        admission.hold(entry)
        admission.enqueue(entry)
      }
      const forgotten: Array<Entry> = []
      yield* lifecycle.shutdown({
        admission,
        gracePeriod: 0,
        awaitFinished: () => Effect.void,
        forget: (entry) => void forgotten.push(entry)
      })
      assert.deepStrictEqual(forgotten, queued)
      assert.isFalse(admission.isOpen)
      assert.strictEqual(admission.pendingCount, 0)
      assert.isTrue(Option.isNone(Option.fromUndefinedOr(admission.next())))
    }))
})
