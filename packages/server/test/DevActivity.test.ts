/**
 * The dev chain's live activity when a transfer cannot be sent, built by the
 * test itself on a real Hardhat node: a transaction the node refuses (its
 * sender has no funds) and a node that cannot be reached are each logged as
 * a warning with the reason, and the activity goes on to the next second.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Layer, Logger } from "effect"
import { DevChain } from "@chainjobs/devchain"
import * as DevActivity from "../src/DevActivity.ts"
import * as KindExamples from "../src/KindExamples.ts"

/** Calls a JSON-RPC method of the node at `url`. */
const rpc = (url: string, method: string, params: ReadonlyArray<unknown>) =>
  Effect.promise(() =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params })
    }).then((response) => response.json())
  )

/**
 * Waits (looking every 50 ms) for a warning `found` accepts. Not a speed bound: only to say what was seen, it
 * gives up with every warning seen at 50 s, short of the test's 60 s timeout.
 */
const awaitWarning = (warnings: ReadonlyArray<string>, found: (warning: string) => boolean, what: string) =>
  Effect.gen(function*() {
    while (!warnings.some(found)) yield* Effect.sleep("50 millis")
  }).pipe(Effect.timeoutOrElse({
    duration: "50 seconds",
    orElse: () => Effect.die(new Error(`no warning ${what}; warnings: ${JSON.stringify(warnings)}`))
  }))

layer(DevChain.layer(), { excludeTestServices: true, timeout: 120_000 })("DevActivity", (it) => {
  it.effect("a refused transfer and an unreachable node are each logged with the reason, and the activity goes on", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const warnings: Array<string> = []
      const capture = Logger.make<unknown, void>(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push((Array.isArray(message) ? message : [message]).map(String).join(" | "))
      })
      // Fault injection: once `cut`, the activity's node URL leads nowhere (port 9, discard: nothing listens).
      const fault = { cut: false }
      const faulty = DevChain.DevChain.of({
        ...chain,
        get url() {
          return fault.cut ? "http://127.0.0.1:9" : chain.url
        }
      })
      const examples = yield* Layer.build(KindExamples.layer({ chains: [], devChain: true }))
      yield* Layer.build(
        DevActivity.layer.pipe(
          Layer.provide(Layer.succeedContext(examples)),
          Layer.provide(Layer.succeed(DevChain.DevChain, faulty)),
          Layer.provide(Logger.layer([capture]))
        )
      )
      // Seeded: the examples name the seeded token's transfers.
      const all = yield* KindExamples.KindExamples.use((kinds) => kinds.all).pipe(Effect.provide(Layer.succeedContext(examples)))
      assert.isTrue(all.has("chain/scan-addresses"))
      // Every account is drained: the node refuses the next transfer.
      for (const account of chain.accounts) yield* rpc(chain.url, "hardhat_setBalance", [account.address, "0x0"])
      yield* awaitWarning(warnings, (warning) => warning.startsWith("chainjobs: dev chain activity | ") && /fund/i.test(warning), "of a refused transfer")
      fault.cut = true
      yield* awaitWarning(warnings, (warning) => warning === "chainjobs: dev chain activity | TypeError: fetch failed", "of an unreachable node")
    }).pipe(Effect.scoped), 60_000)
})
