/**
 * A network configured without endpoints, checked: `checkNetwork` answers
 * with the typed failure of a client that has nowhere to send, not a defect
 * from reading the URL of a first endpoint that is not there.
 */
import { ChainRequestError } from "@chainjobs/chain"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as SuiCheck from "../src/SuiCheck.ts"
import * as SuiClient from "../src/SuiClient.ts"

describe("SuiCheck.checkNetwork, a network without endpoints", () => {
  it.live("fails with a ChainRequestError, not a defect", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(SuiCheck.checkNetwork(SuiClient.network({ name: "sui-nowhere", endpoints: [] })))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isSuccess(exit)) return
      const reasons = exit.cause.reasons
      assert.isFalse(reasons.some((reason) => reason._tag === "Die"), String(exit.cause))
      const failed = reasons.find((reason) => reason._tag === "Fail")
      assert.instanceOf((failed as { readonly error: unknown }).error, ChainRequestError.ChainRequestError)
    }))
})
