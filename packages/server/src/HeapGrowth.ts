/**
 * How far V8 lets the old generation grow between full collections, set by
 * `serve` at its start.
 *
 * After each full collection V8 sets the next one's limit at a factor of
 * the live heap it left, a factor of its own choosing of up to 4 on a large
 * machine. Under the full load mix (objects that live about a second: a
 * task's, its streams', a connection's — they outlive the young generation
 * and die in the old one) it chose about 4: ~105 MB live, full collections
 * at ~420 MB, and every page they freed kept in V8's pool (`IdleMemory`), so
 * the RSS climbed to ~705 MB and got there only 90 s into the load. With
 * the factor held at 2 (`--heap-growing-percent=100`) the heap reaches its
 * size within the warm-up and stays ~200 MB lower, for more full
 * collections (11 against 5 after warm-up) whose cost did not show in the
 * service's CPU per task (the figures in the package README).
 *
 * `CHAINJOBS_HEAP_GROWING_PERCENT` sets the percent (0: V8's own factor);
 * a `--heap-growing-percent` given to `node` itself wins over it. Node
 * takes that flag on its command line only (`execArgv`): in `NODE_OPTIONS`
 * it refuses it and does not start ("is not allowed in NODE_OPTIONS", exit
 * 9), so there is no other place to look for it.
 *
 * @since 0.1.0
 */
import { Config, Effect, Layer, Schema } from "effect"
import * as V8 from "node:v8"

/** The old generation's growth past the live heap the service asks of V8 unless told otherwise (percent). */
export const defaultPercent = 100

/** The growth from `CHAINJOBS_HEAP_GROWING_PERCENT`: a whole percent of at least 0 (0: V8's own factor). */
export const percentConfig: Config.Config<number> = Config.schema(
  Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)),
  "CHAINJOBS_HEAP_GROWING_PERCENT"
).pipe(Config.withDefault(defaultPercent))

/** The flag as `node` takes it, in either spelling. */
const given = /^--heap[-_]growing[-_]percent(=|$)/

/**
 * Sets V8's `--heap-growing-percent` to `percent`, unless it is 0 or the
 * process was started with the flag (`execArgv`); whether it set it.
 */
export const apply = (percent: number, execArgv: ReadonlyArray<string> = process.execArgv): boolean => {
  if (percent === 0 || execArgv.some((arg) => given.test(arg))) return false
  V8.setFlagsFromString(`--heap-growing-percent=${percent}`)
  return true
}

/** `apply` with the percent from `CHAINJOBS_HEAP_GROWING_PERCENT`, when the layer is built. */
export const layer: Layer.Layer<never, Config.ConfigError> = Layer.effectDiscard(
  Effect.flatMap(percentConfig, (percent) => Effect.sync(() => apply(percent)))
)
