import { assert, describe, it, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as DevChain from "../src/DevChain.ts"

const rpc = (url: string, method: string, params: Array<unknown> = []) =>
  Effect.tryPromise(() =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params })
    }).then((response) => response.json() as Promise<{ readonly result: unknown }>)
  )

layer(DevChain.layer(), { excludeTestServices: true })("DevChain.layer", (it) => {
  it.effect("answers JSON-RPC on 127.0.0.1 with the derived dev accounts", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      assert.match(chain.url, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.strictEqual(Number((yield* rpc(chain.url, "eth_chainId")).result), chain.chainId)
      assert.deepStrictEqual(
        (yield* rpc(chain.url, "eth_accounts")).result,
        chain.accounts.map((account) => account.address.toLowerCase())
      )
    }))
})

describe("DevChain.make", () => {
  it.live("stops the node when its scope closes", () =>
    Effect.gen(function*() {
      const url = yield* Effect.scoped(Effect.map(DevChain.make(), (chain) => chain.url))
      const refused = yield* Effect.flip(rpc(url, "eth_chainId"))
      assert.strictEqual(refused._tag, "UnknownError")
    }))
})
