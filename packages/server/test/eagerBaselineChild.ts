/**
 * A process for `EagerBaseline.test.ts`: applies `EagerBaseline.apply` with
 * the choice given as its argument (`true` or `false`), then calls a
 * function for the first time and prints one JSON line: whether the flag was
 * set, and whether V8 ran that first call on baseline (Sparkplug) code,
 * read from V8's own status of the function (`%GetOptimizationStatus`, its
 * bit 15: baseline code).
 */
import * as V8 from "node:v8"
import * as EagerBaseline from "../src/EagerBaseline.ts"

const set = EagerBaseline.apply(process.argv[2] === "true", [])
// The status is V8's native syntax, which a function compiled after this flag may use.
V8.setFlagsFromString("--allow-natives-syntax")
const status = new Function("f", "return %GetOptimizationStatus(f)") as (f: unknown) => number
const first = new Function("x", "return x + 1") as (x: number) => number
first(1)
process.stdout.write(`${JSON.stringify({ set, baseline: (status(first) & (1 << 15)) !== 0 })}\n`)
