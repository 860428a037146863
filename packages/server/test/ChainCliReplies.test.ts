/**
 * What `chainjobs chain check` and `chains` print when the service refuses:
 * a refusal's own message (not taken for a server that cannot be reached), an unreachable chain's reason, and a
 * service without chains saying so.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Exit, Option } from "effect"
import { chainjobs } from "./cli.ts"
import type { ChainSetting } from "../src/ServerConfig.ts"
import { testServer } from "./http.ts"

/** The typed error a command line run ended with. */
const errorOf = (exit: Exit.Exit<unknown, unknown>) =>
  Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit)) as { _tag: string; message: string } | undefined : undefined

describe("the chain command line's replies", () => {
  // nothing listens on port 9 of 127.0.0.1: the chain's only endpoint refuses at once
  const down: ChainSetting = { name: "down", chainId: 1, endpoints: [{ url: "http://127.0.0.1:9/" }], requestTimeoutMillis: 200, breaker: { failures: 1, openDurationMillis: 50 } }
  layer(testServer({ chains: [down] }), { excludeTestServices: true })("a service with one unreachable chain", (it) => {
    it.effect("an unknown chain fails with the service's own message, naming the configured ones", () =>
      Effect.gen(function*() {
        const { exit, lines } = yield* chainjobs("chain", "check", "ropsten")
        const error = errorOf(exit)
        assert.strictEqual(error?._tag, "ChainCliError")
        assert.strictEqual(error?.message, `no chain "ropsten" is configured (configured: down)`)
        assert.deepStrictEqual(lines, [])
      }))

    it.effect("an unreachable chain fails saying it did not answer, and why", () =>
      Effect.gen(function*() {
        const { exit } = yield* chainjobs("chain", "check", "down")
        const error = errorOf(exit)
        assert.strictEqual(error?._tag, "ChainCliError")
        assert.match(error?.message ?? "", /^chain down did not answer: .+/)
      }), { timeout: 30_000 })
  })

  layer(testServer({}), { excludeTestServices: true })("a service started without chains", (it) => {
    it.effect("listing or checking chains says the service has none, not that it cannot be reached", () =>
      Effect.gen(function*() {
        for (const args of [["chains"], ["chain", "check", "dev"]]) {
          const { exit, lines } = yield* chainjobs(...args)
          const error = errorOf(exit)
          assert.strictEqual(error?._tag, "ChainCliError")
          assert.match(error?.message ?? "", /^the server at http:\/\/127\.0\.0\.1:\d+ has no chains \(it was started without any\)$/)
          assert.deepStrictEqual(lines, [])
        }
      }))
  })
})
