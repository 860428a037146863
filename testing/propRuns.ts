/**
 * `CHAINJOBS_PROP_RUNS=<n>`: a run of the tests in which every property is
 * checked more often than `npm test` checks it. A property with no run count
 * of its own (effect's `Arbitrary.checkEffect` default: 100) is checked n
 * times; one with its own count (`{ arbitrary: { runs: 30 } }`, kept low
 * where each run starts a chain, a cluster or a service) by the same factor,
 * n / 100. Unset, nothing changes: CI checks each property its usual number
 * of times. Set, the root `vitest.config.ts` preloads `propRunsHooks.ts` in
 * every test worker, which gives `@effect/vitest` the `checkEffect` of
 * `propRunsArbitrary.ts`. A test's own vitest timeout is not raised.
 */

/** The environment variable that raises every property's run count. */
export const propRunsVariable = "CHAINJOBS_PROP_RUNS"

/** What effect's `Arbitrary.checkEffect` checks a property with no run count of its own: its built-in default. */
export const defaultPropRuns = 100

/**
 * The raised run count `CHAINJOBS_PROP_RUNS` asks for, `undefined` when it is
 * unset or empty. Anything else but a positive whole number is refused with
 * an error naming the variable, rather than read as NaN (which effect would
 * refuse deep inside the first property run).
 */
export const propRunsSetting = (setting: string | undefined): number | undefined => {
  if (setting === undefined || setting === "") return undefined
  const runs = Number(setting)
  if (!/^[0-9]+$/.test(setting) || !Number.isSafeInteger(runs) || runs <= 0) {
    throw new Error(`${propRunsVariable} must be a positive whole number of property runs, not ${JSON.stringify(setting)}`)
  }
  return runs
}

/**
 * A property's run count under a raised setting: its own count (or the
 * default) scaled by `raised / 100`, rounded, and never below 1.
 */
export const raisedPropRuns = (own: number | undefined, raised: number): number =>
  Math.max(1, Math.round(((own ?? defaultPropRuns) * raised) / defaultPropRuns))
