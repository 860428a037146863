/**
 * A budget for the event streams a poll phase of the event loop opens in
 * its request callbacks.
 *
 * `HotReads` opens a task's event stream in the request's own callback (the
 * head, the current record, the feed's listener): a poll phase that read a
 * hundred such requests opens a hundred streams before the loop goes on.
 * In the full load mix, 790 watchers open a new connection per task (about
 * 500 a second), and they come in waves: a slice of the feed ends a few
 * dozen streams at once and their clients come back together, and at the
 * start all of them connect at once. A new connection's status read waits
 * through such a phase twice (the poll that accepts it, then the one that
 * reads its request), while the streams opened there gain little from
 * opening at once: their first record is the task as it stands whenever
 * they open.
 *
 * `make` runs the opens of a poll phase inline until they have taken
 * `budgetMillis` between two check phases; the next ones wait for a turn of
 * the fiber scheduler (`TurnScheduler`, whose budget spreads them over
 * turns, in their order among the fibers' work) and the count starts again
 * at the next check phase. A status read is never deferred. 0 opens
 * everything inline.
 *
 * @since 0.1.0
 */
import { Config, Context, Schema } from "effect"
import type { Scheduler } from "effect"

/**
 * Inline stream opens per poll phase (ms), unless the service is told otherwise. Against 0 (every open inline) in
 * two pairs of 60-s runs of the full load mix on a loaded machine, with a turn budget of 8 ms, the status p99 over
 * every new-connection read fell 570 → 441 and 743 → 360 ms, the task streams' lag p99 did not grow. With the turn
 * budget at 2 ms, 1 ms (half the turn, the ratio 4 had to 8) did no better in two pairs of 120-s runs: 180 and 385
 * ms against 221 and 160 (packages/server/README.md).
 */
export const defaultBudgetMillis = 4

/** The budget (ms) from `CHAINJOBS_OPEN_BUDGET_MS`: a number of at least 0 (0: every open inline). */
export const budgetConfig: Config.Config<number> = Config.schema(
  Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0)),
  "CHAINJOBS_OPEN_BUDGET_MS"
).pipe(Config.withDefault(defaultBudgetMillis))

/** The budget the service runs with (ms), set where it is built from `budgetConfig`. */
export const BudgetMillis: Context.Reference<number> = Context.Reference<number>(
  "@chainjobs/server/OpenBudget/BudgetMillis",
  { defaultValue: () => defaultBudgetMillis }
)

/**
 * Runs an open now, or in a coming turn of the scheduler once this poll phase's opens have spent the budget, telling
 * it which: `inline` true when it runs within this call (what the caller read just before is still current), false
 * in a later turn (the caller's reads may be out of date by then).
 */
export type OpenBudget = (open: (inline: boolean) => void) => void

/**
 * Opens run inline until they have taken `budgetMillis` since the last
 * check phase; later ones are queued on `scheduler` (a dispatcher each, so
 * each waits its own turn among the fibers' work, in order). An open that
 * throws is not caught here: inline, the request callback sees it as
 * before; queued, the scheduler reports it (`TurnScheduler`).
 */
export const make = (budgetMillis: number, scheduler: Scheduler.Scheduler): OpenBudget => {
  if (budgetMillis <= 0) return (open) => open(true)
  let spent = 0
  let resetting = false
  const reset = () => {
    resetting = false
    spent = 0
  }
  return (open) => {
    if (spent >= budgetMillis) return scheduler.makeDispatcher().scheduleTask(() => open(false), 0)
    const started = performance.now()
    try {
      open(true)
    } finally {
      spent += performance.now() - started
      if (!resetting) {
        resetting = true
        setImmediate(reset)
      }
    }
  }
}
