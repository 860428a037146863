/**
 * `WarmPolicy`, when `vitest-kept` warms a fresh thread: a row of runs that
 * each leave work behind (kills at vitest's bound) pays one warm-up, not one
 * each; runs that leave none still get a warmed thread to share.
 */
import { assert, describe, it } from "vitest"
import { WarmPolicy } from "../warmPolicy.ts"

/**
 * The threads a stage's runs get, in order, as `keptWorker.ts` drives the
 * policy: `runs` has a letter a mutant, `h` for a run that leaves work behind
 * (its thread ends), `c` for one that leaves none. Each run is answered with
 * the thread it ran in: `k` a kept warmed one (the dry run's first), `w` one
 * warmed for it, `b` a bare one of its own (ended after it).
 */
const threads = (runs: string): string => {
  const policy = new WarmPolicy()
  policy.warmed() // the dry run's thread
  let thread: "warmed" | "bare" | "none" = "warmed"
  let answer = ""
  for (const run of runs) {
    if (thread === "none") {
      thread = policy.warmsNext() ? "warmed" : "bare"
      if (thread === "warmed") policy.warmed()
      answer += thread === "warmed" ? "w" : "b"
    } else answer += "k"
    policy.ran(thread === "warmed", run === "h")
    if (run === "h" || thread === "bare") thread = "none"
  }
  return answer
}

describe("WarmPolicy", () => {
  it("runs that leave no work behind share the dry run's thread", () => {
    assert.strictEqual(threads("cccc"), "kkkk")
  })

  it("after a warmed thread served one run that left work behind, the next runs get bare threads while they leave work", () => {
    assert.strictEqual(threads("hhhh"), "kbbb")
    // the old rule warmed before each: "kwww"
  })

  it("after a bare run that left no work, the next thread is warmed again and shared", () => {
    assert.strictEqual(threads("hhccc"), "kbbwk")
  })

  it("a warmed thread that served several runs before one left work: the next is warmed, as before", () => {
    assert.strictEqual(threads("chchch"), "kkwkwk")
    assert.strictEqual(threads("cchhcc"), "kkkwbw")
  })
})
