/**
 * The hot reads with the poll phase's budget of inline stream opens spent at
 * once (`OpenBudget`, a budget of a nanosecond): every stream a poll phase
 * reads after its first waits for a turn of the fiber scheduler, and is
 * still opened from the task as it stands then — thirty watchers of a
 * running task, whose requests the server reads in one poll phase, each
 * get its records to the end; status reads among them are answered as ever.
 * That the opens really waited is read from the scheduler: `OpenBudget`
 * queues each on a dispatcher of its own, made in a request callback, where
 * no fiber runs (a fiber makes its dispatcher while it or its parent runs).
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Fiber, Scheduler } from "effect"
import { TaskStore, Tasks } from "@chainjobs/tasks"
import { endEvent } from "../src/RestServer.ts"
import * as TurnScheduler from "../src/TurnScheduler.ts"
import { budgetSpentFront, services, submit, tokens } from "./hotFront.ts"

/** `inner`, counting the dispatchers made outside every fiber: the opens `OpenBudget` queued. */
const countingQueued = (inner: Scheduler.Scheduler) => {
  let queued = 0
  const scheduler: Scheduler.Scheduler = {
    executionMode: inner.executionMode,
    shouldYield: (fiber) => inner.shouldYield(fiber),
    makeDispatcher: () => {
      if (Fiber.getCurrent() === undefined) queued++
      return inner.makeDispatcher()
    }
  }
  return { scheduler, queued: () => queued }
}

describe("HotReads, stream opens past the poll phase's budget", () => {
  layer(services(TaskStore.layerMemory), { excludeTestServices: true })("in front of a stack", (it) => {
    it.effect("are opened in a later turn, from the task as it stands, and followed to their end", () =>
      Effect.gen(function*() {
        // The service's scheduler, whose turns the queued opens wait for.
        const turns = countingQueued(TurnScheduler.make())
        const front = yield* budgetSpentFront(turns.scheduler)
        const tasks = yield* Tasks.Tasks
        // A task running long enough for the watchers to join it while it runs.
        const task = yield* submit("alice", 150)
        // Thirty connections open first, then every request written in one go: the server (in this process) reads
        // them all in its next poll phase, which opens the first stream inline and queues the others.
        const { sockets, answers } = yield* front.connect(30)
        sockets.forEach((socket, i) =>
          socket.write(
            `GET /api/tasks/${task.id}${i % 5 === 4 ? "" : "/events"} HTTP/1.1\r\nhost: test\r\n` +
              `authorization: Bearer ${tokens.alice}\r\nconnection: close\r\n\r\n`
          )
        )
        const reads = yield* answers
        // The 24 streams' requests came in one or a few poll phases, each opening its first inline: most waited.
        assert.isAtLeast(turns.queued(), 12, "stream opens queued for a turn")
        assert.isAtMost(turns.queued(), 23, "stream opens queued for a turn (the first of a phase is inline)")
        const final = yield* tasks.awaitInfo(task.id)
        assert.strictEqual(final.status, "completed")
        const end = new TextDecoder().decode(endEvent)
        reads.forEach((read, i) => {
          assert.isTrue(read.startsWith("HTTP/1.1 200"), `read ${i}: ${read}`)
          if (i % 5 === 4) assert.include(read, `"${task.id}"`, `status read ${i}`)
          else {
            // Chunked: the end event is the last chunk's text before the terminating chunk.
            assert.include(read, end, `stream ${i}: ${read}`)
            assert.include(read, `"status":"completed"`, `stream ${i}`)
            assert.isTrue(read.endsWith("0\r\n\r\n"), `stream ${i} ended: ${read}`)
          }
        })
      }))
  })
})
