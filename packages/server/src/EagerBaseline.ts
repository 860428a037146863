/**
 * V8's baseline compiler for every function at its first call, set by
 * `serve` at its start (`--always-sparkplug`).
 *
 * V8 runs a function in its interpreter until the function has been called
 * often enough to be worth compiling, first by Sparkplug (machine code made
 * straight from the bytecode, in about the time it takes to parse it), then
 * by its optimising compilers. A service just started meets its first load
 * with every request path in the interpreter: under issue 17's mix, where a
 * thousand clients connect at once, the first 10 s carried the slowest
 * status reads of the run (new-connection p99 ~400–500 ms against ~100
 * after). With the flag every function gets Sparkplug's code at its first
 * call, so the first requests run compiled code; the optimising compilers
 * still take over the hot ones as before. What it costs is the baseline
 * code of the functions that would have stayed interpreted (a few MB) and
 * its compile time, small beside the interpreter's (the figures in the
 * package README).
 *
 * Set from here it covers the functions compiled after `serve` starts —
 * every request path, V8 compiling a function only at its first call.
 * `CHAINJOBS_EAGER_BASELINE=false` leaves V8's own tiering; an
 * `--always-sparkplug` (or `--no-always-sparkplug`) given to `node` on its
 * command line wins (node refuses V8's flags in `NODE_OPTIONS` but for a
 * few, not this one).
 *
 * @since 0.1.0
 */
import { Config, Effect, Layer } from "effect"
import * as V8 from "node:v8"

/** Whether `serve` compiles every function with the baseline compiler at its first call, unless told otherwise. */
export const defaultEager = true

/** Whether to from `CHAINJOBS_EAGER_BASELINE`: a boolean (`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`). */
export const eagerConfig: Config.Config<boolean> = Config.Boolean("CHAINJOBS_EAGER_BASELINE").pipe(
  Config.withDefault(defaultEager)
)

/** The flag as `node` takes it, in either spelling, with or without `no-`. */
const given = /^--(no[-_])?always[-_]sparkplug$/

/**
 * Sets V8's `--always-sparkplug` when `eager`, unless the process was
 * started with the flag or its negation (`execArgv`); whether it set it.
 */
export const apply = (eager: boolean, execArgv: ReadonlyArray<string> = process.execArgv): boolean => {
  if (!eager || execArgv.some((arg) => given.test(arg))) return false
  V8.setFlagsFromString("--always-sparkplug")
  return true
}

/** `apply` with the choice from `CHAINJOBS_EAGER_BASELINE`, when the layer is built. */
export const layer: Layer.Layer<never, Config.ConfigError> = Layer.effectDiscard(
  Effect.flatMap(eagerConfig, (eager) => Effect.sync(() => apply(eager)))
)
