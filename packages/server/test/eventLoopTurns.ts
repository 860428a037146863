/**
 * Waiting on the event loop by its turns (check phases) rather than by time:
 * a test of work scheduled turn by turn (`TurnScheduler`) reads how many
 * turns it took, which a loaded machine does not change, only how long each
 * takes.
 */

/** Resolves after the check phase queued now has run: one turn of the event loop. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/**
 * Waits a turn at a time until `done()`; past `turns` turns it fails naming
 * `what`. The work under test needs a few dozen turns at most, so a change
 * that loses it (a task never run, a dispatcher never queued again) fails
 * here at once, with what was awaited, instead of holding the test to its
 * time bound.
 */
export const untilTurn = async (done: () => boolean, what: string, turns: number = 10_000): Promise<void> => {
  for (let turn = 0; !done(); turn++) {
    if (turn >= turns) throw new Error(`${what}: still waiting after ${turns} turns of the event loop`)
    await nextTurn()
  }
}
