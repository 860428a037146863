/**
 * `TurnScheduler`'s order and budget, read from the tasks it runs (no timing): a fiber's tasks run by
 * priority, lower first, each priority's in the order scheduled; tasks scheduled while a run goes on wait for
 * the next run; a turn whose budget is spent leaves the rest of its tasks for the next turn, the dispatcher it
 * cut going first then, and a flush runs what a cut left. A budget of 0 is spent by any one task, so each
 * turn runs exactly one task.
 */
import { assert, describe, it } from "@effect/vitest"
import * as TurnScheduler from "../src/TurnScheduler.ts"

/** Resolves after the check phase that is queued now has run (a `setImmediate` queued after the scheduler's). */
const afterTurn = () => new Promise<void>((resolve) => setImmediate(resolve))

describe("TurnScheduler's order", () => {
  it("a fiber's tasks run lower priority first, each priority's in the order scheduled", () => {
    const dispatcher = TurnScheduler.make().makeDispatcher()
    const ran: Array<string> = []
    dispatcher.scheduleTask(() => ran.push("b1"), 1)
    dispatcher.scheduleTask(() => ran.push("c"), 2)
    dispatcher.scheduleTask(() => ran.push("a"), 0)
    dispatcher.scheduleTask(() => ran.push("b2"), 1)
    dispatcher.flush()
    assert.deepStrictEqual(ran, ["a", "b1", "b2", "c"])
  })

  it("a task scheduled while the fiber's tasks run waits for the next run", async () => {
    // A budget no two tasks spend: only the order is read (the default budget, 8 ms then, was spent by the first task
    // of a loaded, instrumented run, which left the second for the next turn).
    const dispatcher = TurnScheduler.make(60_000).makeDispatcher()
    const ran: Array<string> = []
    dispatcher.scheduleTask(() => {
      ran.push("first")
      dispatcher.scheduleTask(() => ran.push("scheduled by first"), 0)
    }, 5)
    dispatcher.scheduleTask(() => ran.push("second"), 5)
    await afterTurn()
    assert.deepStrictEqual(ran, ["first", "second"])
    await afterTurn()
    assert.deepStrictEqual(ran, ["first", "second", "scheduled by first"])
  })

  it("with the budget spent, a turn leaves the rest for the next; the dispatcher it cut goes first", async () => {
    const scheduler = TurnScheduler.make(0)
    const one = scheduler.makeDispatcher()
    const two = scheduler.makeDispatcher()
    const ran: Array<string> = []
    one.scheduleTask(() => ran.push("one-a"), 0)
    one.scheduleTask(() => ran.push("one-b"), 0)
    two.scheduleTask(() => ran.push("two"), 0)
    const seen: Array<Array<string>> = []
    for (let turn = 0; turn < 4; turn++) {
      await afterTurn()
      seen.push([...ran])
    }
    assert.deepStrictEqual(seen, [["one-a"], ["one-a", "one-b"], ["one-a", "one-b", "two"], ["one-a", "one-b", "two"]])
  })

  it("a turn the budget cuts after a fiber's first task keeps every task after it, in order", async () => {
    const dispatcher = TurnScheduler.make(0).makeDispatcher()
    const ran: Array<string> = []
    for (const name of ["a", "b", "c"]) dispatcher.scheduleTask(() => ran.push(name), 0)
    const seen: Array<Array<string>> = []
    for (let turn = 0; turn < 4; turn++) {
      await afterTurn()
      seen.push([...ran])
    }
    assert.deepStrictEqual(seen, [["a"], ["a", "b"], ["a", "b", "c"], ["a", "b", "c"]])
  })

  /** A fiber of two tasks on a budget of 0, after the turn that ran the first and cut it: `b` is left. */
  const cutAfterA = async () => {
    const scheduler = TurnScheduler.make(0)
    const dispatcher = scheduler.makeDispatcher()
    const ran: Array<string> = []
    dispatcher.scheduleTask(() => ran.push("a"), 0)
    dispatcher.scheduleTask(() => ran.push("b"), 0)
    await afterTurn()
    assert.deepStrictEqual(ran, ["a"])
    return { scheduler, dispatcher, ran }
  }

  it("a fiber the budget cut waits in the run queue once, whatever it schedules before its next turn", async () => {
    const { dispatcher, ran, scheduler } = await cutAfterA()
    assert.strictEqual(scheduler.backlog().readyFibers, 1)
    // Its fiber schedules more (a queue woke it) while it waits with the task the cut left.
    dispatcher.scheduleTask(() => ran.push("c"), 0)
    assert.strictEqual(scheduler.backlog().readyFibers, 1)
  })

  it("a flush runs the tasks a turn's budget left to the fiber, at once", async () => {
    const { dispatcher, ran } = await cutAfterA()
    // `b` is the fiber's only task left, kept from the turn the budget cut (`Effect.runSync` flushes its fiber so).
    dispatcher.flush()
    assert.deepStrictEqual(ran, ["a", "b"])
    await afterTurn()
    assert.deepStrictEqual(ran, ["a", "b"])
  })

  it("a turn that finds its fiber's tasks flushed already runs none, and charges the next turn's tasks nothing", async () => {
    const scheduler = TurnScheduler.make(60_000)
    const flushed = scheduler.makeDispatcher()
    const ran: Array<string> = []
    flushed.scheduleTask(() => ran.push("flushed"), 0)
    flushed.flush()
    // The turn queued for it finds nothing to run: no task to share its tail among.
    await afterTurn()
    for (const name of ["x", "y"]) scheduler.makeDispatcher().scheduleTask(() => ran.push(name), 0)
    await afterTurn()
    assert.deepStrictEqual(ran, ["flushed", "x", "y"])
  })

  it("with nothing left to run, it queues no more turns: the event loop can go idle", async () => {
    const scheduler = TurnScheduler.make(60_000)
    const ran: Array<string> = []
    const immediate = globalThis.setImmediate
    // The turns the scheduler queues: its `setImmediate`s of its turn (the test waits with the original, uncounted).
    let queued = 0
    globalThis.setImmediate = ((callback: (...args: Array<unknown>) => void, ...args: Array<unknown>) => {
      if (callback.name === "turn") queued++
      return immediate(callback, ...args)
    }) as typeof setImmediate
    try {
      scheduler.makeDispatcher().scheduleTask(() => ran.push("a"), 0)
      assert.strictEqual(queued, 1)
      for (let turn = 0; turn < 3; turn++) await new Promise<void>((resolve) => immediate(resolve))
      assert.deepStrictEqual(ran, ["a"])
      assert.strictEqual(queued, 1, "turns queued with an empty run queue")
    } finally {
      globalThis.setImmediate = immediate
    }
  })

  it("with budget to spare, one turn runs every fiber's tasks", async () => {
    const scheduler = TurnScheduler.make(60_000)
    const ran: Array<string> = []
    for (const name of ["x", "y", "z"]) {
      const dispatcher = scheduler.makeDispatcher()
      dispatcher.scheduleTask(() => ran.push(`${name}1`), 0)
      dispatcher.scheduleTask(() => ran.push(`${name}2`), 0)
    }
    await afterTurn()
    assert.deepStrictEqual(ran, ["x1", "x2", "y1", "y2", "z1", "z2"])
  })
})
