/**
 * `OpenBudget`: the event streams one poll phase opens inline stop at the
 * budget, the others wait for the fiber scheduler's turns, in their order,
 * and the count (of the opens' own time) starts again at every next check
 * phase. Read from where each open ran — inside the synchronous block that
 * stands for one poll phase, or after it — not from timed assertions: each
 * open keeps the thread busy for a known time, so which ones fit the budget
 * is fixed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as OpenBudget from "../src/OpenBudget.ts"
import * as TurnScheduler from "../src/TurnScheduler.ts"
import { untilTurn } from "./eventLoopTurns.ts"

/** Keeps the thread busy for at least `millis` (ms on `performance.now()`, the budget's clock). */
const busy = (millis: number) => {
  const end = performance.now() + millis
  while (performance.now() < end) { /* a stream's head and first record written */ }
}

/**
 * Runs `count` opens of `millis` each through `budget` in one synchronous block: which ran inside it, which were told
 * they ran inline (`said`: the same ones, once all have run), and the order all ran in.
 */
const phase = (budget: OpenBudget.OpenBudget, count: number, millis: number, tag: string) => {
  const order: Array<string> = []
  let inPhase = true
  const inline: Array<string> = []
  const said: Array<string> = []
  for (let i = 0; i < count; i++) {
    const name = `${tag}${i}`
    budget((told) => {
      busy(millis)
      order.push(name)
      if (inPhase) inline.push(name)
      if (told) said.push(name)
    })
  }
  inPhase = false
  return { order, inline, said }
}

describe("OpenBudget", () => {
  it("opens inline until the phase has spent the budget; the rest run in the scheduler's turns, in order", async () => {
    const budget = OpenBudget.make(2, TurnScheduler.make(8))
    const first = phase(budget, 10, 1, "a")
    // At least 1 ms each against 2 ms: the first runs inline, at most the second reaches the budget, the rest wait
    // (a thread preempted inside the first can spend the budget with it alone).
    assert.isTrue(first.inline[0] === "a0" && first.inline.length <= 2, first.inline.join(" "))
    assert.deepStrictEqual(first.inline, first.order.slice(0, first.inline.length))
    await untilTurn(() => first.order.length === 10, "the queued opens")
    assert.deepStrictEqual(first.order, Array.from({ length: 10 }, (_, i) => `a${i}`))
    // Each open was told where it ran: inline ones true, the queued ones (at least eight of ten) false.
    assert.deepStrictEqual(first.said, first.inline)
    // A later poll phase has the whole budget again.
    const second = phase(budget, 3, 1, "b")
    assert.isTrue(second.inline[0] === "b0" && second.inline.length <= 2, second.inline.join(" "))
    await untilTurn(() => second.order.length === 3, "the second phase's opens")
    assert.deepStrictEqual(second.said, second.inline)
    // And so does every one after it: each check phase starts the count again, not only the first.
    await new Promise<void>((resolve) => setImmediate(resolve))
    const third = phase(budget, 3, 1, "c")
    assert.isTrue(third.inline[0] === "c0" && third.inline.length <= 2, third.inline.join(" "))
    await untilTurn(() => third.order.length === 3, "the third phase's opens")
    assert.deepStrictEqual(third.said, third.inline)
  })

  it("counts the time the opens took: quick opens all run inline while under the budget", () => {
    // 200 ms against five opens that do nothing: a count of anything but their own time would spend it at once.
    const budget = OpenBudget.make(200, TurnScheduler.make(8))
    const all = phase(budget, 5, 0, "q")
    assert.deepStrictEqual(all.inline, ["q0", "q1", "q2", "q3", "q4"])
    assert.deepStrictEqual(all.said, all.inline)
  })

  it("with a budget of 0 opens every stream inline, as before", () => {
    const budget = OpenBudget.make(0, TurnScheduler.make(8))
    const all = phase(budget, 5, 0.2, "c")
    assert.deepStrictEqual(all.inline, ["c0", "c1", "c2", "c3", "c4"])
    assert.deepStrictEqual(all.said, all.inline)
  })

  it("an open that throws inline reaches its caller, and the phase's count still holds it", async () => {
    const budget = OpenBudget.make(1, TurnScheduler.make(8))
    assert.throws(() =>
      budget(() => {
        busy(1)
        throw new Error("open failed")
      }), /open failed/)
    // The failed open spent the budget: the next one of this phase waits for a turn.
    let ran = false
    let told: boolean | undefined
    budget((inline) => {
      ran = true
      told = inline
    })
    assert.isFalse(ran)
    await untilTurn(() => ran, "the open after the failed one")
    assert.isFalse(told, "a queued open is told it did not run inline")
  })
})
