/**
 * A task's final write when the store refuses it for a while (fault
 * injection on the memory store): written again until it is stored, the task
 * told only then; refused through all its retries, its waiters and followers
 * told the store's failure, not an outcome that was never stored; and batches
 * of final writes one after another, each committed (`internal/completions.ts`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Logger, Option, Scope, Stream } from "effect"
import { TaskStoreError } from "../src/TaskError.ts"
import type { TaskInfo } from "../src/TaskInfo.ts"
import * as Tasks from "../src/Tasks.ts"
import * as TaskStore from "../src/TaskStore.ts"
import { Add, AddLive, Gate, gateLive, joinWithin, settle, startOn } from "./fixtures.ts"
import { record } from "./TaskStoreConformance.ts"

/**
 * The memory store refusing the first `refusals` updates of a finished record, each time; with `batched`, it also
 * has an `updateAll` (one call per batch, noted), refusing the same way; with `dies`, a refused update dies instead
 * of failing (a batch's fails as a whole). `memory`: the store underneath, which takes every write.
 */
const flakyStore = (refusals: number, batched: boolean, dies = false) =>
  Effect.map(TaskStore.makeMemory, (memory) => {
    const refused = new Map<string, number>()
    const batches: Array<number> = []
    const refusal = new TaskStoreError({ operation: "update", detail: "refused for the test" })
    const refuses = (info: TaskInfo) => {
      if (info.status === "running" || info.status === "pending") return false
      const times = refused.get(info.id) ?? 0
      if (times >= refusals) return false
      refused.set(info.id, times + 1)
      return true
    }
    const update = (info: TaskInfo) =>
      Effect.suspend(() => refuses(info) ? dies ? Effect.die(new Error("the disk went away")) : Effect.fail(refusal) : memory.update(info))
    const store = TaskStore.TaskStore.of({
      ...memory,
      update,
      ...(batched
        ? {
          updateAll: (infos) =>
            Effect.suspend(() => {
              batches.push(infos.length)
              if (dies && infos.some((info) => refuses(info))) return Effect.die(new Error("the disk went away"))
              return Effect.forEach(infos, (info) => refuses(info) ? Effect.succeed(refusal) : Effect.as(memory.update(info), undefined))
            })
        }
        : {})
    })
    return { store, batches, refused, memory }
  })

describe("a task's final write refused by the store for a while", () => {
  // Every count of refusals from 1 to 4, each once: the run is deterministic given the count, so this checks all a
  // property over 1..4 could (it drew the same 4 values 100 times, starting a supervisor for each — 1.5 s alone at
  // load 14, past vitest's 5 s at load 20–25), and no value is left to chance.
  for (const batched of [false, true]) {
    it.effect.each([1, 2, 3, 4])(
      `is written again until stored, and the task is told only then (${batched ? "with" : "without"} updateAll, %s refusals)`,
      (refusals) =>
        Effect.gen(function*() {
          const { refused, store } = yield* flakyStore(refusals, batched)
          const { scope, tasks } = yield* startOn(store, AddLive)
          const handle = yield* tasks.submit(Add, { a: 2, b: 3 })
          const joined = yield* Effect.forkChild(handle.join)
          yield* settle
          // a refused batch is written again alone at once, and the first retry follows a refusal at once; the next
          // ones back off from 100 ms, doubling
          if (refusals >= (batched ? 3 : 2)) assert.isUndefined(joined.pollUnsafe(), "told before its record was stored")
          assert.strictEqual(yield* joinWithin(joined, 8, "the join"), 5)
          const stored = Option.getOrThrow(yield* store.get(handle.id))
          assert.deepStrictEqual([stored.status, stored.result], ["completed", 5])
          assert.strictEqual(refused.get(handle.id), refusals)
          yield* Scope.close(scope, Exit.void)
        })
    )
  }
})

describe("a task's final write refused through all its retries", () => {
  for (const batched of [false, true]) {
    it.effect(
      `fails its waiters and followers with the store's error, and leaves the record the store holds (${batched ? "with" : "without"} updateAll)`,
      () =>
        Effect.gen(function*() {
          // every write refused: the first one and all its retries
          const { refused, store } = yield* flakyStore(Number.MAX_SAFE_INTEGER, batched)
          const { scope, tasks } = yield* startOn(store, AddLive)
          const handle = yield* tasks.submit(Add, { a: 2, b: 3 })
          // what a waiter is told: its error's tag, or what it got
          const told = <A, E extends { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
            Effect.forkChild(Effect.match(effect, { onFailure: (error) => error._tag, onSuccess: (a) => `success ${JSON.stringify(a)}` }))
          const joined = yield* told(handle.join)
          const awaited = yield* told(tasks.awaitInfo(handle.id))
          const watched = yield* told(Stream.runCollect(tasks.watch(handle.id)))
          const finished = yield* Effect.forkChild(
            tasks.events.pipe(Stream.filter((event) => event._tag === "Finished"), Stream.take(1), Stream.runCollect)
          )
          const join = yield* joinWithin(joined, 8, "the join")
          // the first write (a batch's, then its own) and its retries, each refused
          assert.strictEqual(refused.get(handle.id), batched ? 8 : 7)
          assert.deepStrictEqual(
            { join, awaitInfo: yield* joinWithin(awaited, 0, "awaitInfo"), watch: yield* joinWithin(watched, 0, "the watch") },
            { join: "TaskStoreError", awaitInfo: "TaskStoreError", watch: "TaskStoreError" }
          )
          // no one hears of an outcome the store never took; reads answer what it holds: the task running
          assert.isUndefined(finished.pollUnsafe(), "a Finished event for a record never stored")
          assert.strictEqual((yield* tasks.get(handle.id)).status, "running")
          assert.isUndefined(Tasks.peek(tasks, handle.id))
          yield* Scope.close(scope, Exit.void)
        })
    )

    it.effect(
      `fails a handle made after the task was let go, and awaitInfo then, with the store's error while the stored record is unfinished, and answers it once finished elsewhere (${batched ? "with" : "without"} updateAll)`,
      () =>
        Effect.gen(function*() {
          const { memory, store } = yield* flakyStore(Number.MAX_SAFE_INTEGER, batched)
          const { scope, tasks } = yield* startOn(store, AddLive)
          const submitted = yield* tasks.submit(Add, { a: 2, b: 3 })
          // let go, given up
          const joined = yield* joinWithin(yield* Effect.forkChild(Effect.flip(submitted.join)), 8, "the join")
          assert.strictEqual(joined._tag, "TaskStoreError")
          const told = <A, E extends TaskStoreError | { readonly _tag: string }>(effect: Effect.Effect<A, E>) =>
            Effect.match(effect, {
              onFailure: (error) => error._tag === "TaskStoreError" ? `${error._tag}: ${(error as TaskStoreError).detail}` : error._tag,
              onSuccess: (a) => Exit.isExit(a) ? `exit ${Exit.isSuccess(a) ? a.value : "failure"}` : `info ${(a as TaskInfo).status}`
            })
          const later = yield* tasks.handle(submitted.id)
          assert.deepStrictEqual(
            [yield* told(later.await), yield* told(tasks.awaitInfo(submitted.id))],
            ["TaskStoreError: refused for the test", "TaskStoreError: refused for the test"]
          )
          // the record as the process that took the task back would finish it
          const running = yield* tasks.get(submitted.id)
          yield* memory.update({ ...running, status: "completed", result: 5, finishedAt: running.heartbeatAt })
          assert.deepStrictEqual(
            [yield* told(later.await), yield* told(tasks.awaitInfo(submitted.id))],
            ["exit 5", "info completed"]
          )
          yield* Scope.close(scope, Exit.void)
        })
    )

    it.effect.each(["deleted here", "purged here", "deleted elsewhere and submitted anew here", "deleted and submitted anew elsewhere"] as const)(
      `is forgotten once the record is %s: a later task of that id is not told the earlier refusal (${batched ? "with" : "without"} updateAll)`,
      (how) =>
        Effect.gen(function*() {
          const { memory, store } = yield* flakyStore(Number.MAX_SAFE_INTEGER, batched)
          const gates = yield* gateLive
          const { scope, tasks } = yield* startOn(store, Layer.merge(AddLive, gates.layer))
          const first = yield* tasks.submit(Add, { a: 2, b: 3 })
          // let go, given up
          assert.strictEqual((yield* joinWithin(yield* Effect.forkChild(Effect.flip(first.join)), 8, "the join"))._tag, "TaskStoreError")
          const id = first.id
          const { createdAt } = yield* tasks.get(id)
          if (how === "deleted here") yield* tasks.delete(id)
          if (how === "purged here") {
            // finished by the process that took it back, then purged here
            const running = yield* tasks.get(id)
            yield* memory.update({ ...running, status: "completed", result: 5, finishedAt: running.heartbeatAt })
            assert.strictEqual(yield* tasks.purge({}), 1)
          }
          if (how === "deleted elsewhere and submitted anew here") {
            yield* memory.remove(id)
            // a task of that id started here, then handed off: let go unfinished, its record pending
            yield* tasks.submit(Gate, { id: "later" }, { id })
            yield* tasks.handOff(id)
          } else if (how === "deleted and submitted anew elsewhere") {
            // nothing of it here: another process deleted the record and took a new task under the id (created later)
            yield* memory.remove(id)
            yield* memory.insert(record({ id, kind: Add.name, payload: { a: 1, b: 1 }, status: "running", createdAt: createdAt + 1 }))
          } else {
            // the id submitted anew to another process, running there
            yield* memory.insert(record({ id, kind: Add.name, payload: { a: 1, b: 1 }, status: "running", createdAt: createdAt + 1 }))
          }
          const told = yield* Effect.match(tasks.awaitInfo(id), {
            onFailure: (error) => error._tag,
            onSuccess: (info) => `info ${info.status}`
          })
          assert.strictEqual(told, how === "deleted elsewhere and submitted anew here" ? "info pending" : "info running")
          yield* Scope.close(scope, Exit.void)
        })
    )

    it.effect(
      `of a task adopted here (no handle made at its submission) fails its awaits with the store's error and dispatches the task waiting for its worker (${batched ? "with" : "without"} updateAll)`,
      () =>
        Effect.gen(function*() {
          const { memory, store } = yield* flakyStore(Number.MAX_SAFE_INTEGER, batched)
          const { scope, tasks } = yield* startOn(store, AddLive, { maxWorkers: 1 })
          // written by another process, pending
          const other = record({ kind: Add.name, payload: { a: 2, b: 3 } })
          yield* memory.insert(other)
          yield* tasks.adopt(other.id)
          // one worker: the next task waits for the adopted one's release
          const next = yield* tasks.submit(Add, { a: 1, b: 1 })
          const awaited = yield* Effect.forkChild(Effect.flip(tasks.awaitInfo(other.id)))
          const error = yield* joinWithin(awaited, 8, "awaitInfo")
          assert.deepStrictEqual(error._tag === "TaskStoreError" ? error.detail : error._tag, "refused for the test")
          // released: the next task is dispatched and runs (its final write given up too)
          assert.strictEqual((yield* joinWithin(yield* Effect.forkChild(Effect.flip(next.join)), 8, "the next task"))._tag, "TaskStoreError")
          yield* Scope.close(scope, Exit.void)
        })
    )

    it.effect(
      `tells its waiters the store's own refusal, and frees its worker for the next task (${batched ? "with" : "without"} updateAll)`,
      () =>
        Effect.gen(function*() {
          const { store } = yield* flakyStore(Number.MAX_SAFE_INTEGER, batched)
          // one worker: the second task runs only once the first, given up, let it go
          const { scope, tasks } = yield* startOn(store, AddLive, { maxWorkers: 1 })
          const first = yield* tasks.submit(Add, { a: 2, b: 3 })
          const second = yield* tasks.submit(Add, { a: 4, b: 5 })
          const joined = yield* Effect.forkChild(Effect.flip(first.join))
          const next = yield* Effect.forkChild(Effect.flip(second.join))
          // the next task runs only if the given-up one let go of its worker
          const nextError = yield* joinWithin(next, 20, "the next task")
          // the error the store gave (the last refusal), not one made up for it
          for (const error of [yield* joinWithin(joined, 0, "the first task"), nextError]) {
            assert.deepStrictEqual(
              error._tag === "TaskStoreError" ? [error.operation, error.detail] : error,
              ["update", "refused for the test"]
            )
          }
          yield* Scope.close(scope, Exit.void)
        })
    )
  }
})

describe("a task's final write that dies", () => {
  for (const batched of [false, true]) {
    it.effect(
      `is given up at once: its waiters told a store error naming the update and the task, the outcome logged (${batched ? "with" : "without"} updateAll)`,
      () => {
        const logged: Array<unknown> = []
        const capture = Logger.make(({ message }) => void logged.push((message as ReadonlyArray<unknown>)[0]))
        return Effect.gen(function*() {
          // the batch dies (with updateAll), then the record's own write dies
          const { refused, store } = yield* flakyStore(batched ? 2 : 1, batched, true)
          const { scope, tasks } = yield* startOn(store, AddLive)
          const handle = yield* tasks.submit(Add, { a: 2, b: 3 })
          yield* settle
          // joined once the task was let go: the handle made at its submission still tells the store's error
          const error = yield* joinWithin(yield* Effect.forkChild(Effect.flip(handle.join)), 1, "the join")
          assert.strictEqual(refused.get(handle.id), batched ? 2 : 1, "written again after it died alone")
          assert.deepStrictEqual(
            error._tag === "TaskStoreError" ? [error.operation, error.detail] : error,
            ["update", `the final record of task ${handle.id} could not be written`]
          )
          assert.include(logged, "chainjobs: could not record the outcome of task")
          yield* Scope.close(scope, Exit.void)
        }).pipe(Effect.provide(Logger.layer([capture])))
      }
    )
  }
})

describe("final writes over a store with updateAll", () => {
  it.effect("batches one after another are each committed and their tasks told", () =>
    Effect.gen(function*() {
      const { batches, store } = yield* flakyStore(0, true)
      const { scope, tasks } = yield* startOn(store, AddLive, { maxWorkers: 4 })
      for (let round = 0; round < 3; round++) {
        const handles = yield* tasks.submitAll(Add, Array.from({ length: 4 }, (_, a) => ({ a, b: round })))
        const joins = yield* Effect.forkChild(Effect.forEach(handles, (handle) => handle.join))
        assert.deepStrictEqual(yield* joinWithin(joins, 1, "the joins"), [0, 1, 2, 3].map((a) => a + round))
        for (const handle of handles) assert.strictEqual(Option.getOrThrow(yield* store.get(handle.id)).status, "completed")
      }
      assert.strictEqual(batches.reduce((sum, size) => sum + size, 0), 12)
      assert.isAtLeast(batches.length, 3)
      assert.isFalse(batches.some((size) => size === 0))
      yield* Scope.close(scope, Exit.void)
    }))
})
