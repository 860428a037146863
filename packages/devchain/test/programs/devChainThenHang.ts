/** Starts a dev chain, prints its URL, and waits to be killed: for the test of a parent that dies without cleanup. */
import { Effect } from "effect"
import * as DevChain from "../../src/DevChain.ts"

Effect.runFork(Effect.scoped(Effect.gen(function*() {
  const chain = yield* DevChain.make()
  console.log(chain.url)
  yield* Effect.never
})))
