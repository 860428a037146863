/**
 * `OpenShards.closedWhile` closes its shard again when the hand-over ends: an
 * adoption that read the shard's records while its tasks were still being let
 * go (found stopping, so adopted as nothing) read an epoch that must not open
 * the shard afterwards; only a read after the hand-over does.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { ShardId } from "effect/cluster"
import { OpenShards } from "@chainjobs/cluster"

describe("OpenShards.closedWhile", () => {
  it.effect("an epoch read during a hand-over does not open the shard after it; one read after does", () =>
    Effect.gen(function*() {
      const shard = ShardId.make("default", 1)
      const shards = OpenShards.make(() => true)
      assert.isTrue(shards.open(shard, shards.epoch(shard)))
      const readDuring = yield* shards.closedWhile(
        shard,
        Effect.sync(() => {
          const epoch = shards.epoch(shard)
          assert.isFalse(shards.open(shard, epoch), "refused while the hand-over is under way")
          return epoch
        })
      )
      assert.isFalse(shards.isOpen(shard))
      assert.isFalse(shards.open(shard, readDuring), "the epoch read during the hand-over is stale")
      assert.isTrue(shards.open(shard, shards.epoch(shard)), "a read after it opens the shard")
    }))
})
