/**
 * effect's `Arbitrary` module as `@effect/vitest` sees it when
 * `CHAINJOBS_PROP_RUNS` is set (see `propRuns.ts`): everything as it is,
 * except that `checkEffect` checks each property the raised number of
 * times. A replayed check (`replay`) is left as it is: its token fixes its run.
 */
import * as Arbitrary from "effect/Arbitrary"
import { propRunsSetting, propRunsVariable, raisedPropRuns } from "./propRuns.ts"

export * from "effect/Arbitrary"

const raised = propRunsSetting(process.env[propRunsVariable])

/** `Arbitrary.checkEffect` with the property's run count raised by `CHAINJOBS_PROP_RUNS`. */
export const checkEffect: typeof Arbitrary.checkEffect = (self, property, options) =>
  Arbitrary.checkEffect(
    self,
    property,
    raised === undefined || options?.replay !== undefined ? options : { ...options, runs: raisedPropRuns(options?.runs, raised) }
  )
