/**
 * `@chainjobs/devchain` as the tests of a mutation run see it when their
 * package shares one node (`sharesDevChain` in `vitest.config.ts`): the same
 * modules, but `DevChain.make`, `layer` and `layerChains` reach the node the
 * global setup started (`devChainSetup.ts`) rather than starting one.
 *
 * Each use takes an `evm_snapshot` first and reverts to it when its scope
 * closes, putting back the mining mode a test may have changed, so every
 * test file finds the chain as the file before it found it: as fresh as a
 * node of its own. Stryker runs one test file at a time per worker, each
 * worker with a node of its own; a worker whose tests hang is killed with
 * its node.
 */
import { Effect, Layer } from "effect"
import { inject } from "vitest"
import type { Chains } from "../packages/chain/src/index.ts"
import * as Real from "../packages/devchain/src/DevChain.ts"

export * as DevSeed from "../packages/devchain/src/DevSeed.ts"

/** One JSON-RPC call to the shared node; a failure is a `DevChainError`. */
const call = (url: string, method: string, params: ReadonlyArray<unknown> = []) =>
  Effect.tryPromise({
    try: (signal) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
        signal
      }).then((response) => response.json() as Promise<{ readonly result?: unknown; readonly error?: unknown }>),
    catch: (cause) => new Real.DevChainError({ reason: "Exited", detail: `shared node at ${url}: ${String(cause)}` })
  }).pipe(
    Effect.flatMap((answer) =>
      answer.error === undefined
        ? Effect.succeed(answer.result)
        : Effect.fail(
          new Real.DevChainError({ reason: "Exited", detail: `${method} on the shared node: ${JSON.stringify(answer.error)}` })
        )
    )
  )

/** The shared node for the current scope: a snapshot now, reverted (and automining again) when the scope closes. */
const make = Effect.fn("sharedDevChain.make")(function*(_options: Partial<Real.DevChainOptions> = {}) {
  const { port, url, wsUrl } = inject("sharedDevChain")
  yield* Effect.acquireRelease(
    call(url, "evm_snapshot"),
    (snapshot) =>
      Effect.all([
        call(url, "evm_revert", [snapshot]),
        call(url, "evm_setIntervalMining", [0]),
        call(url, "evm_setAutomine", [true])
      ]).pipe(Effect.orDie)
  )
  return Real.DevChain.of({ url, wsUrl, port, chainId: Real.chainId, accounts: Real.accounts })
})

/** `DevChain.layer` on the shared node. */
const layer = (options: Partial<Real.DevChainOptions> = {}): Layer.Layer<Real.DevChain, Real.DevChainError> =>
  Layer.effect(Real.DevChain, make(options))

/** `DevChain.layerChains` on the shared node. */
const layerChains = (
  options: Partial<Real.DevChainOptions> = {}
): Layer.Layer<Chains.Chains | Real.DevChain, Real.DevChainError> =>
  Real.chainsOnDevChain.pipe(Layer.provideMerge(layer(options)))

/** The `DevChain` module with its node-starting parts replaced. */
export const DevChain: typeof Real = { ...Real, make, layer, layerChains }
