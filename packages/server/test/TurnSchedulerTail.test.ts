/**
 * `TurnScheduler` charges a turn's tasks for the work the turn before left
 * for after it: a corked write is sent from a `process.nextTick` callback
 * once the turn's callback returns, outside the budget's clock. Read from
 * the order of the tasks and of the work they left (no timed assertion):
 * the tasks of one turn run in one `setImmediate` callback, and what they
 * leave runs between it and the next turn, so each unbroken run of tasks in
 * the log is one turn. The charge is the tail's share per task of the turn
 * that left it, timed from that turn's end.
 */
import { assert, describe, it } from "@effect/vitest"
import * as TurnScheduler from "../src/TurnScheduler.ts"
import { untilTurn } from "./eventLoopTurns.ts"

/** Keeps the thread busy for at least `millis` (ms on `performance.now()`, the scheduler's clock). */
const busy = (millis: number) => {
  const end = performance.now() + millis
  while (performance.now() < end) { /* a write's system call, a watcher woken */ }
}

/** The lengths of the unbroken runs of `"task"` in `log`: the tasks each turn ran. */
const turnsOf = (log: ReadonlyArray<"task" | "left">): Array<number> => {
  const turns: Array<number> = []
  let run = 0
  for (const entry of log) {
    if (entry === "task") run++
    else if (run > 0) {
      turns.push(run)
      run = 0
    }
  }
  if (run > 0) turns.push(run)
  return turns
}

describe("TurnScheduler, the work a turn leaves after it", () => {
  it("is charged to the next turn's tasks: each leaving 1 ms, a turn of an 8-ms budget runs at most 8 of them", async () => {
    const budget = 8
    const fibers = 48
    const rounds = 6
    const scheduler = TurnScheduler.make(budget)
    const log: Array<"task" | "left"> = []
    let left = fibers * rounds
    for (let f = 0; f < fibers; f++) {
      const dispatcher = scheduler.makeDispatcher()
      let round = 0
      // The task itself costs nothing; what it leaves for after the turn (a corked write's send) costs 1 ms.
      const task = () => {
        log.push("task")
        process.nextTick(() => {
          busy(1)
          log.push("left")
          left--
        })
        if (++round < rounds) dispatcher.scheduleTask(task, 0)
      }
      dispatcher.scheduleTask(task, 0)
    }
    // Counted in turns: a scheduler that loses a task fails here, not at the test's bound.
    await untilTurn(() => left === 0, `${fibers * rounds} tasks and what they left`)
    const turns = turnsOf(log)
    assert.strictEqual(turns.reduce((sum, n) => sum + n, 0), fibers * rounds)
    // The first turn knows of no such work yet (its tasks cost nothing: it runs every fiber unless the machine takes
    // the processor from it for the whole budget). Every later turn is charged at least 1 ms a task: 8 of them fill the budget.
    for (const [i, tasks] of turns.slice(1).entries()) assert.isAtMost(tasks, budget, `turn ${i + 2} ran ${tasks} tasks: ${turns.join(",")}`)
    // 288 ms of busy work, and the turns between: seconds on a loaded machine, never a bound on its speed.
  }, 60_000)

  it("is shared among the tasks that left it: a tail of 50 ms after 10 tasks charges each of the next turn's 5 ms", async () => {
    // A budget of 1 s: 10 tasks charged 5 ms each fit in one turn; charged the whole tail each (500 ms), 2 would.
    const attempt = async () => {
      const scheduler = TurnScheduler.make(1_000)
      const log: Array<"task" | "left"> = []
      const round = (leaves: number) => {
        let left = 10
        for (let f = 0; f < 10; f++) {
          scheduler.makeDispatcher().scheduleTask(() => {
            log.push("task")
            process.nextTick(() => {
              busy(leaves)
              log.push("left")
              left--
            })
          }, 0)
        }
        return untilTurn(() => left === 0, "10 tasks and what they left")
      }
      await round(5)
      await round(0)
      return turnsOf(log)
    }
    // The first turn knows of no tail yet; the second is charged the first's, 5 ms a task at least — more only if the
    // machine takes the processor from the tail (by 950 ms, and the 10 would still not fit: a process at nice 19 beside
    // a busy one can wait that long). So up to three attempts, each on a scheduler of its own: a scheduler that charges
    // more than the share never fits the 10, however often it is tried.
    const attempts = [await attempt()]
    while (attempts.length < 3 && attempts[attempts.length - 1].join(",") !== "10,10") attempts.push(await attempt())
    assert.deepStrictEqual(attempts[attempts.length - 1], [10, 10], `turns of each attempt: ${JSON.stringify(attempts)}`)
  })

  it("is measured from the turn's end: a turn that left nothing charges the next turn's tasks (almost) nothing", async () => {
    // A budget of 500 ms: the tail of a turn that left no work is microseconds; charged as much as the clock's
    // reading since the thread started (seconds), the next turn would stop after its first task. Up to three attempts,
    // each on a scheduler of its own, as above: a tail the machine stretched past 500 ms stops that turn too.
    const afterTurn = () => new Promise<void>((resolve) => setImmediate(resolve))
    const attempt = async () => {
      const scheduler = TurnScheduler.make(500)
      const ran: Array<string> = []
      scheduler.makeDispatcher().scheduleTask(() => ran.push("first"), 0)
      await afterTurn()
      for (const name of ["x", "y", "z"]) scheduler.makeDispatcher().scheduleTask(() => ran.push(name), 0)
      await afterTurn()
      return [...ran]
    }
    const attempts = [await attempt()]
    while (attempts.length < 3 && attempts[attempts.length - 1].length !== 4) attempts.push(await attempt())
    assert.deepStrictEqual(attempts[attempts.length - 1], ["first", "x", "y", "z"], JSON.stringify(attempts))
  })
})
