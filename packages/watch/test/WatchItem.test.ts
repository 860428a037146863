/**
 * A detected item's identity and order, the accounts whose balances it
 * changes, what a `WatchError` says, and who may change watchers: checked
 * against the rules written out, since the watcher tests compute what they
 * expect with the same identities.
 */
import { assert, describe, it } from "@effect/vitest"
import { Principal } from "@chainjobs/tasks"
import { Effect, Schema } from "effect"
import * as WatchAccess from "../src/WatchAccess.ts"
import { ChainFailed, chainFailed, DeepReorg, Invalid, StoreFailed, storeFailed, UnknownWatcher, WatchError } from "../src/WatchError.ts"
import * as WatchItem from "../src/WatchItem.ts"

const item = (fields: Partial<ConstructorParameters<typeof WatchItem.WatchItem>[0]> = {}) =>
  new WatchItem.WatchItem({
    watcher: "deposits",
    chain: "dev",
    kind: "native",
    block: 10,
    blockHash: "0xb10",
    transaction: "0xt1",
    position: null,
    from: "0xa",
    to: "0xb",
    amount: "5",
    asset: null,
    contract: null,
    event: null,
    args: null,
    ...fields
  })

/** An item drawn from small numbers, so that blocks, positions and transactions collide often. */
const Drawn = Schema.Struct({
  block: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 })),
  tx: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 4 })),
  position: Schema.NullOr(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 3 })))
})

describe("WatchItem", () => {
  it("names a transaction by chain and hash, a log by its position too; a task key adds the watcher", () => {
    assert.strictEqual(WatchItem.id(item()), "dev:0xt1")
    assert.strictEqual(WatchItem.id(item({ kind: "token", position: 3 })), "dev:0xt1:3")
    assert.strictEqual(WatchItem.id(item({ kind: "token", position: 0 })), "dev:0xt1:0")
    assert.strictEqual(WatchItem.taskKey(item({ position: 3 })), "deposits/dev:0xt1:3")
    assert.notStrictEqual(WatchItem.taskKey(item()), WatchItem.taskKey(item({ watcher: "audit" })))
  })

  it.prop("orders by block, a transaction before its logs, then by position, then by transaction", { drawn: Schema.Array(Drawn) }, ({ drawn }) => {
    const items = drawn.map(({ block, position, tx }) => item({ block, position, transaction: `0xt${tx}` }))
    const sorted = [...items].sort(WatchItem.order)
    for (let index = 1; index < sorted.length; index++) {
      const [a, b] = [sorted[index - 1]!, sorted[index]!]
      const before = a.block < b.block ||
        (a.block === b.block && (a.position ?? -1) < (b.position ?? -1)) ||
        (a.block === b.block && a.position === b.position && a.transaction <= b.transaction)
      assert.isTrue(before, `${WatchItem.id(a)} in block ${a.block} sorted before ${WatchItem.id(b)} in block ${b.block}`)
    }
  })

  it("a transfer changes the balances of its sender and recipient; an event changes none", () => {
    assert.deepStrictEqual(WatchItem.accounts(item()), ["0xa", "0xb"])
    assert.deepStrictEqual(WatchItem.accounts(item({ kind: "token", asset: "0xtoken", to: null })), ["0xa"])
    assert.deepStrictEqual(WatchItem.accounts(item({ from: null })), ["0xb"])
    assert.deepStrictEqual(WatchItem.accounts(item({ kind: "event", contract: "0xc", event: "Approval" })), [])
  })
})

describe("WatchError", () => {
  it("says what went wrong, naming the watcher, chain or operation", () => {
    const cases = [
      [new UnknownWatcher({ watcher: "w" }), "no watcher named \"w\""],
      [new Invalid({ watcher: "w", detail: "no accounts" }), "watcher \"w\": no accounts"],
      [
        new DeepReorg({ watcher: "w", block: 12, expectedParent: "0xaa", foundParent: "0xbb" }),
        "watcher \"w\": block 12 has parent 0xbb, not the confirmed 0xaa: a reorganization deeper than the confirmation depth"
      ],
      [new ChainFailed({ chain: "dev", detail: "HTTP 502" }), "chain dev: HTTP 502"],
      [new StoreFailed({ operation: "claim", detail: "database is locked" }), "watch store claim: database is locked"]
    ] as const
    for (const [reason, message] of cases) assert.strictEqual(new WatchError({ reason }).message, message)
    assert.strictEqual(storeFailed("claim")({ message: "database is locked" }).message, "watch store claim: database is locked")
    assert.strictEqual(chainFailed("dev")({ message: "HTTP 502" }).message, "chain dev: HTTP 502")
  })
})

describe("WatchAccess", () => {
  const as = (principal: Principal.Principal) => Effect.provideService(Principal.CurrentPrincipal, principal)

  it.effect("an admin changes watchers; anyone else is refused, naming who asked what", () =>
    Effect.gen(function*() {
      yield* WatchAccess.requireAdmin("AddWatcher").pipe(as({ id: "root", admin: true }))
      const refused = yield* Effect.flip(WatchAccess.requireAdmin("DELETE /api/watch/watchers/w").pipe(as({ id: "alice", admin: false })))
      assert.deepInclude(refused, { _tag: "WatchForbidden", principal: "alice", operation: "DELETE /api/watch/watchers/w" })
      assert.strictEqual(refused.message, "alice may not DELETE /api/watch/watchers/w: changing watchers is for admins")
      assert.isTrue(WatchAccess.mayChange({ id: "root", admin: true }))
      assert.isFalse(WatchAccess.mayChange({ id: "alice", admin: false }))
    }))
})

describe("WatchItem.accounts of an object change", () => {
  it("an object's change (Sui) moves no balance, though it names its sender and its new owner", () => {
    const changed = item({ kind: "object", from: "0xsender", to: "0xowner", contract: "0xobject", event: "transferred", asset: null })
    assert.deepStrictEqual(WatchItem.accounts(changed), [])
  })
})
