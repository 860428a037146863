import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as DevChain from "../src/DevChain.ts"
import * as DevSeed from "../src/DevSeed.ts"
import { nodeBoundMillis } from "./nodeBound.ts"

layer(DevChain.layer(), { excludeTestServices: true, timeout: nodeBoundMillis })("DevSeed.seed", (it) => {
  it.effect("spreads transfers over a few hundred blocks and reports each one", () =>
    Effect.gen(function*() {
      const seeded = yield* DevSeed.seed({ rounds: 40 })
      assert.isAbove(seeded.toBlock - seeded.fromBlock, 150)
      const kinds = seeded.activity.map((item) => item.kind)
      // deployment + 5 distributions + 40 rounds of 3 transactions; the mint, 5 distributions and 40 token transfers
      assert.strictEqual(kinds.filter((kind) => kind === "native").length, 1 + 5 + 40 * 3)
      assert.strictEqual(kinds.filter((kind) => kind === "erc20").length, 1 + 5 + 40)
      const bystanders = DevSeed.expectedFor(seeded, seeded.bystanders)
      assert.strictEqual(bystanders.length, 40)
      assert.isTrue(bystanders.every((item) => item.kind === "native" && item.value === "1"))
      // 167 transactions and 150-odd blocks, a JSON-RPC round trip to the node each: seconds on an idle machine, more
      // than vitest's 5 s default at load average 20 (seen), so bounded like the node itself (nodeBound.ts)
    }), nodeBoundMillis)
})
