/**
 * When `vitest-kept` (`keptWorker.ts`) warms a fresh test thread before a
 * mutant's run: the dry run's tests, no mutant on, so that the thread is
 * clean and serves the runs after it too. A warm-up costs a whole dry run
 * (on tasks' 87 test files about 3.5 minutes at load 15); a fresh thread
 * left unwarmed costs its module loads only, and serves that one run.
 *
 * A thread ends after every run that may leave work behind (a test stopped
 * at vitest's bound), so where such runs come in a row (a stretch of code
 * whose mutants all hang a test: server's `Webhooks.ts`, tasks'
 * `publisher.ts`) each warmed thread served one run and the warm-up was
 * paid for nothing. The rule: after a run that left work behind, when the
 * last warmed thread also served only that one run, the next fresh thread
 * is not warmed (it serves its run alone, as Stryker's plain runner's
 * would); after a run that left none, or one that ended a thread serving
 * several, the next is warmed as before. A row of n such runs then costs
 * one warm-up and n − 1 bare threads instead of n warm-ups; a lone one
 * costs what it did.
 */
export class WarmPolicy {
  /** Mutant runs served by the thread the last warm-up (or the dry run) started; counted while it lives. */
  #servedByWarmed = 0
  /** Whether the last mutant's run may have left work behind (its thread then ended). */
  #leftWork = false

  /** Whether the fresh thread the next mutant's run needs should be warmed first. */
  warmsNext(): boolean {
    return !(this.#leftWork && this.#servedByWarmed <= 1)
  }

  /** A warm-up (or the dry run) started a clean thread. */
  warmed(): void {
    this.#servedByWarmed = 0
  }

  /**
   * A mutant's run ended: in a kept thread (`inWarmed`: the one the last
   * warm-up started, as a bare one is never kept) or in one started for it
   * alone, and whether it may have left work behind.
   */
  ran(inWarmed: boolean, leftWork: boolean): void {
    if (inWarmed) this.#servedByWarmed += 1
    this.#leftWork = leftWork
  }
}
