/**
 * Vitest global setup of a mutation run over a package whose tests use the
 * dev chain (see `sharesDevChain` in `vitest.config.ts`): one Hardhat node
 * for the whole run of a Stryker worker, started before its first test file
 * and stopped when its vitest closes. Every test file's `DevChain.layer()`
 * then reaches this node (`sharedDevChain.ts`) instead of starting its own,
 * which cost a node start per test file per mutant.
 */
import { Effect, Exit, Scope } from "effect"
import type { TestProject } from "vitest/node"
import * as DevChain from "../packages/devchain/src/DevChain.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** The shared node's endpoints, given to the test files by the global setup of a mutation run. */
    readonly sharedDevChain: { readonly url: string; readonly wsUrl: string; readonly port: number }
  }
}

/** Starts the node and hands its endpoints to the test files; the returned teardown stops it. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const scope = Effect.runSync(Scope.make())
  // a bound for the node's first answer well past `DevChain`'s 30 s: the run starts it once, under `nice`, on a loaded machine
  const chain = await Effect.runPromise(DevChain.make({ startTimeout: "120 seconds" }).pipe(Scope.provide(scope)))
  project.provide("sharedDevChain", { url: chain.url, wsUrl: chain.wsUrl, port: chain.port })
  return () => Effect.runPromise(Scope.close(scope, Exit.void))
}
