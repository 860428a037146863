/**
 * The watch RPC group (`WatchRpcs`) served by the service on 127.0.0.1 beside
 * `/api/watch`, through its typed client over HTTP and WebSocket: every
 * principal reads, admins alone change, unknown watchers and bad input get
 * typed errors and change nothing.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Arbitrary, Effect, Exit, Schema } from "effect"
import { DevChain } from "@chainjobs/devchain"
import { WatchRpcClient } from "@chainjobs/rpc"
import { baseUrl, request } from "./http.ts"
import { alice, ops, watched, watchServer } from "./watchServer.ts"


const server = watchServer()

/** Runs `effect` with a client of the service over `transport`, as the principal of `token`. */
const as = <A, E>(
  transport: "http" | "websocket",
  token: string,
  effect: Effect.Effect<A, E, WatchRpcClient.WatchRpcClient>
) =>
  Effect.flatMap(baseUrl, (base) =>
    Effect.scoped(Effect.provide(
      effect,
      transport === "http"
        ? WatchRpcClient.layerHttp({ url: `${base}/rpc/watch`, token })
        : WatchRpcClient.layerWebsocket({ url: `${base.replace(/^http/, "ws")}/ws/watch`, token })
    )))

const client = WatchRpcClient.WatchRpcClient

/** The failure's tag and, for a `WatchError`, its reason's. */
const failureOf = (exit: Exit.Exit<unknown, unknown>): string => {
  assert.isTrue(Exit.isFailure(exit), `expected a failure, got ${JSON.stringify(exit)}`)
  const error = Exit.findErrorOption(exit)
  assert.strictEqual(error._tag, "Some", `expected a typed failure, got ${String(exit)}`)
  const value = (error as { readonly value: any }).value
  return value._tag === "WatchError" ? `WatchError/${value.reason._tag}` : value._tag === "TaskAccessError" ? `TaskAccessError/${value.reason._tag}` : value._tag
}

const watcherNames = Effect.map(request("GET", "/api/watch/watchers", { token: ops }), (reply) =>
  (reply.body as Array<{ readonly name: string }>).map((watcher) => watcher.name).sort())

for (const transport of ["http", "websocket"] as const) {
  describe(`WatchRpcs over ${transport}`, () => {
    layer(server, { excludeTestServices: true, timeout: "120 seconds" })("on the embedded dev chain", (it) => {
      it.effect("any principal reads watchers, lag, items and balances; a balance comes from the chain once, then from the cache", () =>
        as(transport, alice, Effect.gen(function*() {
          const watch = yield* client
          assert.include((yield* watch.list).map((watcher) => watcher.name), "dev-activity")
          assert.strictEqual((yield* watch.get("dev-activity")).chain, "dev")
          assert.isAtLeast((yield* watch.lag("dev-activity")).confirmed, 0)
          yield* watch.items("dev-activity")
          const account = DevChain.accounts[transport === "http" ? 10 : 11]!.address
          const first = yield* watch.balance("dev", account, "native")
          assert.isTrue(first.fromChain)
          assert.strictEqual(first.amount, 10_000n * 10n ** 18n)
          const cached = yield* watch.balance("dev", account, "native")
          assert.isFalse(cached.fromChain)
          const verified = yield* watch.balance("dev", account, "native", { verify: true })
          assert.isTrue(verified.fromChain)
          const page = yield* watch.balances({ chain: "dev", account })
          assert.deepStrictEqual(page.balances.map((balance) => [balance.account, balance.amount]), [[account.toLowerCase(), first.amount]])
          const all = yield* watch.allBalances("dev", account)
          assert.deepStrictEqual(all.map((balance) => [balance.asset, balance.amount, balance.fromChain]), [["native", first.amount, true]])
          assert.isFalse((yield* watch.allBalances("dev", account))[0]!.fromChain)
        })))

      it.effect("only an admin changes watchers: another principal gets WatchForbidden and nothing changes; no token is Unauthenticated", () =>
        Effect.gen(function*() {
          const name = `rpc-${transport}`
          const spec = { name, chain: "dev", processor: "chainjobs.watch.record", accounts: [watched], confirmations: 1 }
          const before = yield* watcherNames
          const refused = [
            yield* as(transport, alice, Effect.exit(client.use((watch) => watch.add(spec)))),
            yield* as(transport, alice, Effect.exit(client.use((watch) => watch.pause("dev-activity")))),
            yield* as(transport, alice, Effect.exit(client.use((watch) => watch.setAccounts("dev-activity", []))))
          ]
          assert.deepStrictEqual(refused.map(failureOf), ["WatchForbidden", "WatchForbidden", "WatchForbidden"])
          const anonymous = yield* as(transport, "no-such-token", Effect.exit(client.use((watch) => watch.list)))
          assert.strictEqual(failureOf(anonymous), "TaskAccessError/Unauthenticated")
          assert.deepStrictEqual(yield* watcherNames, before)
          assert.strictEqual((yield* request("GET", "/api/watch/watchers/dev-activity", { token: ops })).body.status, "active")
          yield* as(transport, ops, Effect.gen(function*() {
            const watch = yield* client
            assert.strictEqual((yield* watch.add(spec)).name, name)
            yield* watch.pause(name)
            assert.strictEqual((yield* watch.get(name)).status, "paused")
            yield* watch.resume(name)
            const from = yield* watch.setAccounts(name, [watched, DevChain.accounts[2]!.address])
            const sets = (yield* watch.get(name)).accountSets
            assert.strictEqual(sets[sets.length - 1]!.fromBlock, from)
            yield* watch.remove(name)
          }))
          assert.deepStrictEqual(yield* watcherNames, before)
        }))

      it.effect("an unknown watcher is WatchError UnknownWatcher, a bad definition or account is Invalid, and nothing is written", () =>
        Effect.gen(function*() {
          const before = yield* watcherNames
          const exits = yield* as(transport, ops, Effect.gen(function*() {
          const watch = yield* client
          return [
            yield* Effect.exit(watch.lag("no-such-watcher")),
            yield* Effect.exit(watch.pause("no-such-watcher")),
            yield* Effect.exit(watch.remove("no-such-watcher")),
            yield* Effect.exit(watch.add({ name: "bad", chain: "dev", processor: "chainjobs.watch.record", accounts: ["0xnope"] })),
            yield* Effect.exit(watch.add({ name: "bad", chain: "no-such-chain", processor: "chainjobs.watch.record", accounts: [watched] })),
            yield* Effect.exit(watch.balance("dev", "0xnope", "native")),
            yield* Effect.exit(watch.balances({ limit: 0 })),
            yield* Effect.exit(watch.balances({ cursor: "not a cursor" }))
          ]
          }))
          assert.deepStrictEqual(exits.map(failureOf).map((tag) => tag.replace(/ChainFailed|Invalid/, "Refused")), [
            "WatchError/UnknownWatcher",
            "WatchError/UnknownWatcher",
            "WatchError/UnknownWatcher",
            "WatchError/Refused",
            "WatchError/Refused",
            "WatchError/Refused",
            "WatchError/Refused",
            "WatchError/Refused"
          ])
          assert.deepStrictEqual(yield* watcherNames, before)
        }))
    })
  })
}

const tags = ["ListWatchers", "GetWatcher", "WatcherLag", "WatcherItems", "AddWatcher", "PauseWatcher", "ResumeWatcher", "SetAccounts", "RemoveWatcher", "ReadBalance", "ListBalances"] as const

/** A payload of the wrong shape for every RPC of the group that takes one. */
const wrongPayload = Arbitrary.schema(Schema.Union([
  Schema.Number,
  Schema.String,
  Schema.Null,
  Schema.Array(Schema.Number),
  Schema.Struct({ name: Schema.Number }),
  Schema.Struct({ name: Schema.Array(Schema.String), accounts: Schema.String }),
  Schema.Struct({ chain: Schema.Boolean, account: Schema.Number, asset: Schema.Null }),
  Schema.Struct({ limit: Schema.String, stale: Schema.Number }),
  Schema.Struct({ name: Schema.String, chain: Schema.Number, processor: Schema.Array(Schema.Number) })
]))

describe("WatchRpcs against hostile input", () => {
  layer(server, { excludeTestServices: true, timeout: "120 seconds" })("on the embedded dev chain", (it) => {
    it.effect.prop(
      "a payload of the wrong type, sent by an admin over HTTP, is a typed failure or a typed 400, never a 5xx or a defect, and writes nothing",
      [Arbitrary.schema(Schema.Literals(tags)), wrongPayload],
      ([tag, payload]) =>
        Effect.gen(function*() {
          const before = yield* watcherNames
          const balancesBefore = (yield* request("GET", "/api/watch/balances?limit=1000", { token: ops })).body
          const base = yield* baseUrl
          const line = JSON.stringify({ _tag: "Request", id: "1", tag, payload, headers: [["authorization", `Bearer ${ops}`]] })
          const reply = yield* Effect.promise(async () => {
            const response = await fetch(`${base}/rpc/watch`, { method: "POST", headers: { "content-type": "application/ndjson" }, body: `${line}\n` })
            return { status: response.status, text: await response.text() }
          })
          assert.isBelow(reply.status, 500, reply.text)
          if (reply.status === 200) {
            for (const message of reply.text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l))) {
              assert.notStrictEqual(message._tag, "Defect", reply.text)
              if (message._tag === "Exit" && message.exit._tag === "Failure") {
                for (const reason of message.exit.cause) {
                  assert.strictEqual(reason._tag, "Fail", reply.text)
                  assert.include(["MalformedRequest", "WatchError"], reason.error._tag, reply.text)
                }
              }
            }
          } else {
            assert.strictEqual(reply.status, 400, reply.text)
            assert.strictEqual(JSON.parse(reply.text)._tag, "MalformedRequest", reply.text)
          }
          assert.deepStrictEqual(yield* watcherNames, before)
          assert.deepStrictEqual((yield* request("GET", "/api/watch/balances?limit=1000", { token: ops })).body, balancesBefore)
        }),
      { timeout: 120_000, arbitrary: { runs: 60 } }
    )
  })
})
