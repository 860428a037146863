/**
 * The service's scheduler against a real listening socket: a burst of fiber
 * work is spread over turns of the event loop, the loop accepting a
 * connection between them, and work scheduled during a turn waits for the
 * next one, so a `yieldNow` lets the loop poll. `CHAINJOBS_TURN_BUDGET_MS`
 * chooses the scheduler a program runs on, and a bad value fails before it
 * runs.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Fiber, Scheduler } from "effect"
import * as net from "node:net"
import * as TurnScheduler from "../src/TurnScheduler.ts"
import { untilTurn } from "./eventLoopTurns.ts"

/** A server on a free port of 127.0.0.1 that notes, when it accepts a connection, what `note` says; closed with the scope. */
const listener = (note: () => number) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ readonly port: number; readonly accepted: () => number | undefined; readonly server: net.Server }>((resolve) => {
        let seen: number | undefined
        const server = net.createServer((socket) => {
          seen ??= note()
          socket.destroy()
        })
        server.listen(0, "127.0.0.1", () => resolve({ port: (server.address() as net.AddressInfo).port, accepted: () => seen, server }))
      })
    ),
    ({ server }) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
  )

/** Keeps the thread busy for `millis`. */
const busy = (millis: number) => {
  const end = performance.now() + millis
  while (performance.now() < end) { /* the work of a watcher's turn */ }
}

/** Connects to `port` (the connection is accepted when the loop polls next). */
const connect = (port: number) => net.connect(port, "127.0.0.1").on("error", () => {}).on("connect", function(this: net.Socket) {
  this.destroy()
})

const budget = 8
const fibers = 40

describe("TurnScheduler", () => {
  it.live(`${fibers} fibers of 2 ms each, started together, leave the loop free to accept a connection after about ${budget} ms of them`, () =>
    Effect.scoped(Effect.gen(function*() {
      let ran = 0
      const { accepted, port } = yield* listener(() => ran)
      const work = Effect.sync(() => {
        // The first fiber to run asks for the connection: the loop can accept it only once it polls again.
        if (ran === 0) connect(port)
        busy(2)
        ran++
      })
      // Forked children start from their parent's dispatcher: all of them at once, the turn after.
      const started = yield* Effect.forEach(Array.from({ length: fibers }), () => Effect.forkChild(work)).pipe(
        Effect.provideService(Scheduler.Scheduler, TurnScheduler.make(budget))
      )
      // Counted in turns: a scheduler that loses a fiber's work fails here, not at the test's bound.
      yield* Effect.promise(() => untilTurn(() => ran === fibers, `${fibers} fibers' work`))
      yield* Fiber.joinAll(started)
      while (accepted() === undefined) yield* Effect.sleep("5 millis")
      assert.strictEqual(ran, fibers)
      // A turn stops at the first fiber that ends past the budget: 4 or 5 of 2 ms, more only if the connection was late.
      assert.isAtMost(accepted()!, fibers / 2, `${accepted()} of ${fibers} fibers ran before the connection was accepted`)
    })))

  it.live("work scheduled during a turn waits for the next turn: a fiber yielding in a loop lets the loop poll at each yield", () =>
    Effect.scoped(Effect.gen(function*() {
      let yields = 0
      const { accepted, port } = yield* listener(() => yields)
      // A budget far longer than the test: only the turn's end lets the loop poll.
      const spin = Effect.gen(function*() {
        connect(port)
        while (accepted() === undefined && yields < 100_000) {
          yield* Effect.yieldNow
          yields++
        }
      }).pipe(Effect.provideService(Scheduler.Scheduler, TurnScheduler.make(60_000)))
      yield* spin
      assert.isDefined(accepted(), `the connection was not accepted in ${yields} yields`)
      assert.isAtMost(accepted()!, 5, `${accepted()} yields before the connection was accepted`)
    })))
})

describe("TurnScheduler, a fiber that never waits", () => {
  it.live("yields after Effect's operation budget: a long run of synchronous steps is spread over turns", () =>
    Effect.gen(function*() {
      // The check phases seen by a loop of immediates of its own, started before the fiber.
      let checks = 0
      let immediate = setImmediate(function count() {
        checks++
        immediate = setImmediate(count)
      })
      const seen: Array<number> = []
      // 10,000 steps with nothing to wait for: Effect yields a fiber every 2,048 operations.
      const steps = Effect.gen(function*() {
        for (let step = 0; step < 10_000; step++) {
          yield* Effect.sync(() => seen.push(checks))
        }
      })
      yield* Effect.provideService(Effect.forkChild(steps), Scheduler.Scheduler, TurnScheduler.make(60_000)).pipe(
        Effect.tap(() => Effect.promise(() => untilTurn(() => seen.length === 10_000, "10,000 steps"))),
        Effect.flatMap(Fiber.join),
        Effect.ensuring(Effect.sync(() => clearImmediate(immediate)))
      )
      assert.strictEqual(seen.length, 10_000)
      assert.isAbove(new Set(seen).size, 1, "every step ran in one turn")
    }))
})

/** Whether `install` ran a program, and on which scheduler, with `env`. */
const installed = (env: Record<string, string>) => {
  let ran: Scheduler.Scheduler | undefined
  const program = Effect.sync(() => "ran").pipe(Effect.tap(() => Effect.map(Effect.service(Scheduler.Scheduler), (s) => ran = s)))
  const exit = Effect.runSyncExit(
    Effect.provideService(TurnScheduler.install(program), ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
  )
  return { exit, ran }
}

describe("TurnScheduler.install", () => {
  it("runs the program on a turn scheduler by default, on Effect's own with a budget of 0", () => {
    const byDefault = installed({})
    assert.isTrue(Exit.isSuccess(byDefault.exit))
    assert.notInstanceOf(byDefault.ran, Scheduler.MixedScheduler)
    assert.isTrue(Exit.isSuccess(installed({ CHAINJOBS_TURN_BUDGET_MS: "2.5" }).exit))
    assert.instanceOf(installed({ CHAINJOBS_TURN_BUDGET_MS: "0" }).ran, Scheduler.MixedScheduler)
  })

  it("by default a turn runs about 2 ms of work: of tasks of 1 ms each, at most 2 a turn", async () => {
    const { ran } = installed({})
    const scheduler = ran!
    // Each task marks its turn's end with a `nextTick`, which runs once the turn's callback returns: each unbroken
    // run of tasks in the log is one turn.
    const tasks = 24
    const log: Array<"task" | "turn"> = []
    let done = 0
    for (let i = 0; i < tasks; i++) {
      scheduler.makeDispatcher().scheduleTask(() => {
        busy(1)
        log.push("task")
        process.nextTick(() => log.at(-1) === "task" && log.push("turn"))
        done++
      }, 0)
    }
    await untilTurn(() => done === tasks, `${tasks} tasks`)
    const turns = log.join("").split("turn").filter((run) => run.length > 0).map((run) => run.length / "task".length)
    assert.strictEqual(turns.reduce((sum, n) => sum + n, 0), tasks)
    // A turn stops at the first task that ends past the budget: a machine that takes the processor only makes fewer.
    assert.isAtMost(Math.max(...turns), 2, `tasks per turn: ${turns.join(",")}`)
  })

  it("a budget that is not a number of at least 0 fails naming the variable, and the program does not run", () => {
    for (const value of ["-1", "soon", "Infinity"]) {
      const { exit, ran } = installed({ CHAINJOBS_TURN_BUDGET_MS: value })
      assert.isTrue(Exit.isFailure(exit), value)
      assert.include(String(exit), "CHAINJOBS_TURN_BUDGET_MS")
      assert.isUndefined(ran, value)
    }
  })
})

/**
 * Runs `body` with the process's `uncaughtException` listeners (the test
 * runner's) replaced by one collecting the errors, then puts them back.
 */
const collectingUncaught = async (body: (uncaught: Array<unknown>) => Promise<void>) => {
  const uncaught: Array<unknown> = []
  const runners = process.listeners("uncaughtException")
  const collect = (error: unknown) => uncaught.push(error)
  process.removeAllListeners("uncaughtException")
  process.on("uncaughtException", collect)
  try {
    await body(uncaught)
  } finally {
    process.off("uncaughtException", collect)
    for (const listener of runners) process.on("uncaughtException", listener)
  }
}

/** Resolves after the check phase queued now has run, and the microtasks after it. */
const afterTurn = () => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)))

describe("TurnScheduler, a task that throws", () => {
  it("does not cut its turn: every other task of the turn runs, and the error reaches uncaughtException once", () =>
    collectingUncaught(async (uncaught) => {
      const scheduler = TurnScheduler.make(60_000)
      const one = scheduler.makeDispatcher()
      const two = scheduler.makeDispatcher()
      const ran: Array<string> = []
      const boom = new Error("boom")
      one.scheduleTask(() => ran.push("one-a"), 0)
      one.scheduleTask(() => {
        throw boom
      }, 0)
      one.scheduleTask(() => ran.push("one-c"), 0)
      two.scheduleTask(() => ran.push("two"), 0)
      await afterTurn()
      assert.deepStrictEqual(ran, ["one-a", "one-c", "two"])
      assert.deepStrictEqual(uncaught, [boom])
      // The scheduler still runs what is scheduled after.
      two.scheduleTask(() => ran.push("two-later"), 0)
      await afterTurn()
      assert.deepStrictEqual(ran, ["one-a", "one-c", "two", "two-later"])
      assert.strictEqual(uncaught.length, 1)
    }))
})

describe("TurnScheduler's backlog", () => {
  it("says how long work waited for its turn, longest since the last look, and how many fibers wait", async () => {
    // A budget of 0: each turn runs one fiber's task, so the third waits two turns.
    const scheduler = TurnScheduler.make(0)
    const ranAt: Array<number> = []
    const before = performance.now()
    for (let i = 0; i < 3; i++) scheduler.makeDispatcher().scheduleTask(() => ranAt.push(performance.now()), 0)
    const after = performance.now()
    assert.deepStrictEqual(scheduler.backlog(), { waitSeconds: 0, readyFibers: 3 })
    await untilTurn(() => ranAt.length === 3, "three fibers' tasks")
    const { readyFibers, waitSeconds } = scheduler.backlog()
    assert.strictEqual(readyFibers, 0)
    // The third joined the queue between `before` and `after`, and its turn began after the second's task ran.
    assert.isAtLeast(waitSeconds * 1000, ranAt[1] - after, `waited ${waitSeconds * 1000} ms, tasks ran at ${ranAt.map((t) => t - before)}`)
    assert.isAtMost(waitSeconds * 1000, ranAt[2] - before)
    assert.deepStrictEqual(scheduler.backlog(), { waitSeconds: 0, readyFibers: 0 }, "a look starts the longest wait again")
  })
})

describe("TurnScheduler's backlog, a fiber alone in its turn", () => {
  /** Schedules a task on a fiber of its own, keeps the thread busy `millis` before the turn can begin, and resolves when the task has run. */
  const waitAlone = async (scheduler: TurnScheduler.TurnScheduler, millis: number) => {
    let ranAt = 0
    const before = performance.now()
    scheduler.makeDispatcher().scheduleTask(() => ranAt = performance.now(), 0)
    busy(millis)
    await untilTurn(() => ranAt !== 0, "the task")
    return { before, ranAt }
  }

  it("counts its wait: from when it was queued to its turn", async () => {
    const scheduler = TurnScheduler.make(60_000)
    const { before, ranAt } = await waitAlone(scheduler, 20)
    const { readyFibers, waitSeconds } = scheduler.backlog()
    assert.strictEqual(readyFibers, 0)
    // Queued after `before`, its turn began after the 20 ms the thread was kept busy and before the task ran.
    assert.isAtLeast(waitSeconds * 1000, 20)
    assert.isAtMost(waitSeconds * 1000, ranAt - before)
  })

  it("the longest wait since the last look is kept through a later, shorter one", async () => {
    const scheduler = TurnScheduler.make(60_000)
    await waitAlone(scheduler, 20)
    // A second turn whose fiber waits only for the next check phase.
    await waitAlone(scheduler, 0)
    assert.isAtLeast(scheduler.backlog().waitSeconds * 1000, 20)
  })
})

describe("TurnScheduler's backlog, a fiber the budget cut", () => {
  it("waits from when it was cut: the time it ran in its turn is not counted as waiting", async () => {
    // A budget of 1 ms and a first task of 30: the turn cuts the fiber after it, the second task waits a turn.
    const scheduler = TurnScheduler.make(1)
    const dispatcher = scheduler.makeDispatcher()
    let cutAt = 0
    let resumedAt = 0
    dispatcher.scheduleTask(() => {
      busy(30)
      // What the first turn waited is not this test's: the look starts the longest wait again.
      scheduler.backlog()
      cutAt = performance.now()
    }, 0)
    dispatcher.scheduleTask(() => {
      resumedAt = performance.now()
    }, 0)
    await untilTurn(() => resumedAt !== 0, "the task the cut left")
    const { waitSeconds } = scheduler.backlog()
    // Its next turn began between the cut and the second task: it waited at most that long (it read 30 ms more before).
    assert.isAtMost(waitSeconds * 1000, resumedAt - cutAt, `waited ${waitSeconds * 1000} ms, cut ${resumedAt - cutAt} ms before it ran again`)
  })

  it("a fiber queued behind the cut one still counts its whole wait", async () => {
    const scheduler = TurnScheduler.make(1)
    const cut = scheduler.makeDispatcher()
    let cutAt = 0
    let otherRanAt = 0
    cut.scheduleTask(() => {
      busy(30)
      scheduler.backlog()
      cutAt = performance.now()
    }, 0)
    cut.scheduleTask(() => {}, 0)
    const otherQueuedAt = performance.now()
    scheduler.makeDispatcher().scheduleTask(() => {
      otherRanAt = performance.now()
    }, 0)
    await untilTurn(() => otherRanAt !== 0, "the fiber queued behind the cut one")
    const { waitSeconds } = scheduler.backlog()
    // The other joined before the first turn and ran only in the next one, after the cut.
    assert.isAtLeast(waitSeconds * 1000, cutAt - otherQueuedAt, `waited ${waitSeconds * 1000} ms, queued ${otherRanAt - otherQueuedAt} ms before it ran`)
  })
})
