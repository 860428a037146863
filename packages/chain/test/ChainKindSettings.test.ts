/**
 * The chain kinds' settings as a service's configuration gives them
 * (`KindsSettings`, `withSettings`): each field given replaces the kind's
 * own, an omitted one keeps it, a name that is no chain kind is refused
 * naming the kinds; and the keys that make one task of a kind exclusive: a
 * scan's is its chain and lowercased address set, a follower's its chain.
 */
import { assert, describe, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import * as ChainTasks from "../src/ChainTasks.ts"

const decode = Schema.decodeUnknownResult(ChainTasks.KindsSettings)

/** A whole number of milliseconds from 1 to a day. */
const Millis = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 86_400_000 }))

describe("chain kind settings", () => {
  it.prop(
    "each setting given replaces the kind's own policy field; every other field stays the kind's",
    {
      timeoutMillis: Schema.optional(Millis),
      heartbeatTimeoutMillis: Schema.optional(Millis),
      concurrency: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 64 }))),
      onConflict: Schema.optional(Schema.Literals(["reject", "join", "queue"]))
    },
    (given) => {
      const settings = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined)) as ChainTasks.KindSettings
      for (const kind of ChainTasks.kinds) {
        const set = ChainTasks.withSettings(kind, settings).policy
        const own = kind.policy
        assert.strictEqual(set.timeoutMillis, settings.timeoutMillis ?? own.timeoutMillis, kind.name)
        assert.strictEqual(set.heartbeatTimeoutMillis, settings.heartbeatTimeoutMillis ?? own.heartbeatTimeoutMillis, kind.name)
        assert.strictEqual(set.concurrency, settings.concurrency ?? own.concurrency, kind.name)
        assert.strictEqual(set.onConflict, settings.onConflict ?? own.onConflict, kind.name)
        assert.strictEqual(set.retry, own.retry, `${kind.name}: no retries setting keeps the kind's retry policy`)
        assert.strictEqual(set.key, own.key, kind.name)
      }
    }
  )

  it("retries: 0 removes a kind's retries, n gives it a schedule of its own, absent keeps its own; no settings is the kind itself", () => {
    const kind = ChainTasks.ScanAddresses
    assert.isDefined(kind.policy.retry)
    assert.isUndefined(ChainTasks.withSettings(kind, { retries: 0 }).policy.retry)
    const two = ChainTasks.withSettings(kind, { retries: 2 }).policy.retry
    assert.isDefined(two)
    assert.notStrictEqual(two, kind.policy.retry)
    assert.strictEqual(ChainTasks.withSettings(kind, {}).policy.retry, kind.policy.retry)
    assert.strictEqual(ChainTasks.withSettings(kind, undefined), kind)
    // a kind without retries gets them from the setting
    assert.isUndefined(ChainTasks.ValidateBlock.policy.retry)
    assert.isDefined(ChainTasks.withSettings(ChainTasks.ValidateBlock, { retries: 1 }).policy.retry)
  })

  it("settings decode from the service's JSON; a name that is no chain kind is refused naming it and the kinds", () => {
    const good = decode({ "chain/sync-events": { timeoutMillis: 1_800_000 }, "chain/scan-addresses": { onConflict: "queue", retries: 0 } })
    assert.isTrue(Result.isSuccess(good))
    const bad = decode({ "chain/sync-events": {}, "chain/scan-adresses": { retries: 1 }, "watch/loop": {} })
    assert.isTrue(Result.isFailure(bad))
    const message = Result.isFailure(bad) ? String(bad.failure) : ""
    assert.include(message, `no chain kind "chain/scan-adresses"`)
    assert.include(message, `no chain kind "watch/loop"`)
    // each refusal at the name's own path
    assert.include(message, `at ["chain/scan-adresses"]`)
    assert.include(message, `at ["watch/loop"]`)
    assert.include(message, ChainTasks.kindNames.join(", "))
    assert.notInclude(message, `"chain/sync-events" (`)
    // a bad value of a known kind is refused too
    assert.isTrue(Result.isFailure(decode({ "chain/fetch-blocks": { retries: -1 } })))
    assert.isTrue(Result.isFailure(decode({ "chain/fetch-blocks": { onConflict: "drop" } })))
  })

  it("a scan's key is its chain and its addresses, lowercased, distinct and sorted; a follower's is its chain", () => {
    assert.strictEqual(
      ChainTasks.scanKey({ chain: "mainnet", addresses: ["0xBB00000000000000000000000000000000000000", "0xaa00000000000000000000000000000000000000", "0xbb00000000000000000000000000000000000000"] }),
      "scan:mainnet:0xaa00000000000000000000000000000000000000,0xbb00000000000000000000000000000000000000"
    )
    const followKey = ChainTasks.FollowHead.policy.key!
    assert.strictEqual(followKey({ chain: "mainnet" }), "follow-head:mainnet")
    assert.notStrictEqual(followKey({ chain: "mainnet" }), followKey({ chain: "base" }))
    const processKey = ChainTasks.ProcessBlock.policy.key!
    assert.strictEqual(processKey({ chain: "base" }), "base")
  })
})
