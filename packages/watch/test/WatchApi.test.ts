import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { address, DevChain, eventually, node, Record } from "./fixtures.ts"
import { call, served } from "./httpFixtures.ts"

layer(served, { excludeTestServices: true, timeout: 120_000 })("WatchApi over HTTP", (it) => {
  it.effect("watchers are added, followed, changed and removed, and balances read, through the API", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const spec = { name: "api", chain: "dev", processor: Record.name, accounts: [address(3)], confirmations: 0 }
      const added = yield* call("POST", "/api/watch/watchers", spec)
      assert.strictEqual(added.status, 201)
      assert.strictEqual(added.body.name, "api")
      const refused = yield* call("POST", "/api/watch/watchers", { ...spec, name: "bad", accounts: ["0x12"] })
      assert.strictEqual(refused.status, 400)
      assert.strictEqual(refused.body._tag, "InvalidWatchRequest")
      assert.deepStrictEqual((yield* call("GET", "/api/watch/watchers")).body.map((watcher: any) => watcher.name), ["api"])

      const hash = yield* act.sendRaw(yield* act.sign(4, address(3), 7n))
      const head = yield* act.head
      yield* eventually(Effect.map(call("GET", "/api/watch/watchers/api/lag"), (lag) => lag.body.processed >= head))
      const items = (yield* call("GET", "/api/watch/watchers/api/items")).body.items
      assert.deepStrictEqual(items.map((row: any) => [row.id, row.status, row.item.amount]), [[`dev:${hash}`, "processed", "7"]])

      const changed = yield* call("PUT", "/api/watch/watchers/api/accounts", { accounts: [address(5)], fromBlock: head + 10 })
      assert.deepStrictEqual([changed.status, changed.body], [200, { fromBlock: head + 10 }])
      assert.strictEqual((yield* call("PUT", "/api/watch/watchers/api/accounts", { accounts: [address(5)], fromBlock: 1 })).status, 400)
      assert.strictEqual((yield* call("POST", "/api/watch/watchers/api/pause")).status, 204)
      assert.strictEqual((yield* call("GET", "/api/watch/watchers/api")).body.status, "paused")

      const balance = yield* call("GET", `/api/watch/balances/dev/${address(3)}/native?verify=true`)
      assert.strictEqual(balance.status, 200)
      assert.strictEqual(balance.body.amount, (yield* act.balance(address(3))).toString())
      assert.isTrue(balance.body.fromChain)
      const cached = yield* call("GET", `/api/watch/balances/dev/${address(3)}/native`)
      assert.deepStrictEqual([cached.body.amount, cached.body.fromChain], [balance.body.amount, false])
      assert.strictEqual((yield* call("GET", "/api/watch/balances/dev/nobody/native")).status, 400)

      assert.strictEqual((yield* call("DELETE", "/api/watch/watchers/api")).status, 204)
      const gone = yield* call("GET", "/api/watch/watchers/api")
      assert.deepStrictEqual([gone.status, gone.body._tag], [404, "WatcherNotFound"])
      assert.strictEqual((yield* call("GET", "/api/watch/openapi.json")).status, 200)
    }), 60_000)
})
