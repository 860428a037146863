/**
 * The memory `BlockFeed`: each chain's latest recorded block, kept apart per
 * chain, and every block recorded on any chain published, in order, to each
 * subscriber from the moment it subscribed until its scope closes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option, Schema, Stream } from "effect"
import { BlockFeed, layerMemory } from "../src/BlockFeed.ts"
import type { ValidatedBlock } from "../src/BlockValidation.ts"

const block = (number: number, tag = "a"): ValidatedBlock => ({
  number,
  hash: `0x${tag}${number.toString(16).padStart(63, "0")}`,
  parentHash: `0x${tag}${(number - 1).toString(16).padStart(63, "0")}`,
  timestamp: 1_700_000_000 + number,
  transactions: number % 3
})

describe("BlockFeed (memory)", () => {
  it.effect("keeps each chain's latest recorded block apart; a chain with none has none", () =>
    Effect.gen(function*() {
      const feed = yield* BlockFeed
      assert.isTrue(Option.isNone(yield* feed.latest("mainnet")))
      yield* feed.record("mainnet", block(10))
      yield* feed.record("base", block(500, "b"))
      yield* feed.record("mainnet", block(11))
      assert.deepStrictEqual(Option.getOrThrow(yield* feed.latest("mainnet")), block(11))
      assert.deepStrictEqual(Option.getOrThrow(yield* feed.latest("base")), block(500, "b"))
      assert.isTrue(Option.isNone(yield* feed.latest("sepolia")))
      // a block of a lower number recorded later (a reorganization followed back) is the latest all the same
      yield* feed.record("mainnet", block(9, "c"))
      assert.deepStrictEqual(Option.getOrThrow(yield* feed.latest("mainnet")), block(9, "c"))
    }).pipe(Effect.provide(layerMemory)))

  it.effect.prop(
    "a subscriber sees every block recorded after it subscribed, on every chain, in order, and none from before",
    { before: Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 }))), after: Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 }))) },
    ({ after, before }) =>
      Effect.gen(function*() {
        const feed = yield* BlockFeed
        for (const number of before) yield* feed.record("early", block(number))
        const stream = yield* feed.subscribe
        const seen = yield* Effect.forkChild(Stream.runCollect(Stream.take(stream, after.length)))
        const chains = after.map((_, index) => index % 2 === 0 ? "mainnet" : "base")
        for (const [index, number] of after.entries()) yield* feed.record(chains[index]!, block(number))
        const items = after.length === 0 ? [] : yield* Fiber.join(seen)
        assert.deepStrictEqual(items.map((item) => [item.chain, item.block.number]), after.map((number, index) => [chains[index], number]))
      }).pipe(Effect.scoped, Effect.provide(layerMemory)),
    { arbitrary: { runs: 30 } }
  )
})
