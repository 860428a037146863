/**
 * How long a test may wait on a dev chain it starts and stops with the
 * defaults: the node's own start bound (`DevChain.defaults.startTimeout`,
 * whose failure names the URL that did not answer) and stop bound, plus 10 s
 * for the test's own steps. vitest's defaults (5 s a test, 10 s a hook) are
 * tighter than the start bound alone: under load (a mutation run's dry run at
 * load average 26) they cut a node still starting, before its own bound could
 * say what it saw.
 */
import { Duration } from "effect"
import * as DevChain from "../src/DevChain.ts"

/** The bound of a test or hook that starts and stops a dev chain with the defaults, in milliseconds. */
export const nodeBoundMillis = Duration.toMillis(Duration.fromInputUnsafe(DevChain.defaults.startTimeout)) +
  Duration.toMillis(Duration.fromInputUnsafe(DevChain.defaults.stopTimeout)) + 10_000
