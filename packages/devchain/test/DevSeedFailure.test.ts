/**
 * Seeding a dev chain whose node does not answer: `DevSeed.seed` fails with
 * a `DevChainError` of reason `Seed` carrying the client's failure, not a
 * defect. The dead node is a port of 127.0.0.1 that was free a moment ago
 * and has nothing listening: each request of the seed is refused there.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as DevChain from "../src/DevChain.ts"
import * as DevSeed from "../src/DevSeed.ts"
import { freePort } from "@chainjobs/tasks/test/ports"

describe("DevSeed.seed, a node that does not answer", () => {
  it.live("fails with DevChainError Seed, naming the client's failure", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const dead = DevChain.DevChain.of({
        url: `http://127.0.0.1:${port}`,
        wsUrl: `ws://127.0.0.1:${port}`,
        port,
        chainId: DevChain.chainId,
        accounts: DevChain.accounts
      })
      const error = yield* DevSeed.seed({ rounds: 1 }).pipe(
        Effect.provideService(DevChain.DevChain, dead),
        Effect.flip
      )
      assert.instanceOf(error, DevChain.DevChainError)
      assert.strictEqual(error.reason, "Seed")
      assert.isTrue(error.message.startsWith("dev chain seed: "), error.message)
      assert.include(error.detail, `127.0.0.1:${port}`)
    }), 60_000)
})
