/**
 * Preloaded (`--import`) in every test worker when `CHAINJOBS_PROP_RUNS` is
 * set (see `propRuns.ts`): sends `@effect/vitest`'s import of
 * `effect/Arbitrary` to `propRunsArbitrary.ts`. `@effect/vitest` runs every
 * property through `Arbitrary.checkEffect` with the test's own options,
 * whose explicit `runs` wins over `Arbitrary.configureGlobal`'s default, so a
 * global default alone would leave the properties that set a count unraised.
 * Every other importer of `effect/Arbitrary`, the wrapper included, gets
 * effect's own module.
 */
import { registerHooks } from "node:module"

const wrapper = new URL("./propRunsArbitrary.ts", import.meta.url).href

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (specifier === "effect/Arbitrary" && context.parentURL?.includes("/node_modules/@effect/vitest/") === true) {
      return { url: wrapper, shortCircuit: true }
    }
    return nextResolve(specifier, context)
  }
})
