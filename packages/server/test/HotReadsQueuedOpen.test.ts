/**
 * A stream open the poll phase's budget queued (`OpenBudget`) reads the task
 * again when its turn comes, not the record its request callback read, and
 * follows it only if the caller may see it: a task deleted meanwhile is no
 * longer held, and one recorded under its id since may be another
 * principal's; either way its queued opens go through the effects, which
 * hand them to the stack (as a missing task) — never a stream of the
 * deleted task's record, nor of the other principal's. The queued opens are
 * held by the test (a scheduler whose dispatchers made outside every fiber
 * keep their tasks until released), so the change surely comes between the
 * request and its open.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Fiber, Scheduler } from "effect"
import { TaskStore, Tasks } from "@chainjobs/tasks"
import * as DemoTasks from "../src/DemoTasks.ts"
import * as TurnScheduler from "../src/TurnScheduler.ts"
import { budgetSpentFront, services, submit, tokens } from "./hotFront.ts"
import { untilTurn } from "./eventLoopTurns.ts"

/** `inner`, keeping the tasks of the dispatchers made outside every fiber (the opens `OpenBudget` queued) until `release`. */
const holdingQueued = (inner: Scheduler.Scheduler) => {
  const held: Array<() => void> = []
  const scheduler: Scheduler.Scheduler = {
    executionMode: inner.executionMode,
    shouldYield: (fiber) => inner.shouldYield(fiber),
    makeDispatcher: () =>
      Fiber.getCurrent() === undefined
        ? { scheduleTask: (task) => void held.push(task), flush: () => {} }
        : inner.makeDispatcher()
  }
  const release = () => held.splice(0).forEach((task) => task())
  return { scheduler, held: () => held.length, release }
}

/**
 * Twelve stream requests of alice's finished task `id`, written at once: the ones opened inline stream its record;
 * once at least one open is queued, `meanwhile` runs, then the queued opens are released. The reads, and how many
 * opens were queued.
 */
const queuedReads = (
  id: string,
  meanwhile: Effect.Effect<unknown, unknown, Tasks.Tasks>
) =>
  Effect.gen(function*() {
    const turns = holdingQueued(TurnScheduler.make())
    const front = yield* budgetSpentFront(turns.scheduler)
    const { sockets, answers } = yield* front.connect(12)
    sockets.forEach((socket) =>
      socket.write(
        `GET /api/tasks/${id}/events HTTP/1.1\r\nhost: test\r\n` +
          `authorization: Bearer ${tokens.alice}\r\nconnection: close\r\n\r\n`
      )
    )
    // Read in one or a few poll phases, each opening its first stream inline: the others wait, held.
    yield* Effect.promise(() => untilTurn(() => turns.held() >= 1, "a stream open queued"))
    const queued = turns.held()
    yield* meanwhile
    yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(() => resolve(turns.release()))))
    const reads = yield* answers
    return { reads, queued }
  })

describe("HotReads, a queued stream open", () => {
  layer(services(TaskStore.layerMemory), { excludeTestServices: true })("in front of a stack", (it) => {
    it.effect("reads the task again in its turn: a task deleted meanwhile goes to the stack, not streamed from its old record", () =>
      Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const task = yield* submit("alice")
        // Finished, its record held by the supervisor: a stream of it opens with the terminal record and ends.
        yield* tasks.awaitInfo(task.id)
        const { queued, reads } = yield* queuedReads(task.id, tasks.delete(task.id))
        const streamed = reads.filter((read) => read.startsWith("HTTP/1.1 200"))
        const toStack = reads.filter((read) => read.startsWith("HTTP/1.1 418"))
        assert.strictEqual(toStack.length, queued, `every queued open went to the stack: ${reads.join("\n---\n")}`)
        assert.strictEqual(streamed.length, reads.length - queued, "every open made inline streamed the record")
        streamed.forEach((read) => assert.include(read, `"status":"completed"`))
      }))

    it.effect("follows the task read again only if the caller may see it: another principal's task recorded under the id meanwhile goes to the stack", () =>
      Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        const task = yield* submit("alice")
        yield* tasks.awaitInfo(task.id)
        // Alice's task deleted, and bob's recorded under its id (a service-side caller may choose an id).
        const { queued, reads } = yield* queuedReads(
          task.id,
          Effect.andThen(
            tasks.delete(task.id),
            Effect.flatMap(
              tasks.submit(DemoTasks.DemoScan, { fromBlock: 1, toBlock: 2, delayMillis: 0 }, { id: task.id, owner: "bob" }),
              (handle) => tasks.awaitInfo(handle.id)
            )
          )
        )
        const toStack = reads.filter((read) => read.startsWith("HTTP/1.1 418"))
        assert.strictEqual(toStack.length, queued, `every queued open went to the stack: ${reads.join("\n---\n")}`)
        reads.forEach((read) => assert.notInclude(read, `"owner":"bob"`, "bob's record written to alice"))
      }))
  })
})
