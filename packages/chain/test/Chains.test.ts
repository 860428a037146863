import { assert, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as ChainConfig from "../src/ChainConfig.ts"
import * as Chains from "../src/Chains.ts"
import { DevChain } from "@chainjobs/devchain"
import * as FaultProxy from "./FaultProxy.ts"

layer(DevChain.layerChains(), { excludeTestServices: true, timeout: 120_000 })("Chains", (it) => {
  it.effect("hands out the embedded dev chain as `dev` and fails with UnknownChain for other names", () =>
    Effect.gen(function*() {
      const chains = yield* Chains.Chains
      assert.deepStrictEqual(yield* chains.names, ["dev"])
      const dev = yield* chains.client("dev")
      assert.strictEqual(yield* dev.request("eth_chainId"), "0x7a69")
      const error = yield* Effect.flip(chains.client("mainnet"))
      assert.deepInclude(error.reason, { _tag: "UnknownChain", chain: "mainnet" })
    }))

  it.effect("keeps several chains apart, each on its own endpoints", () =>
    Effect.gen(function*() {
      const node = yield* DevChain.DevChain
      const first = yield* FaultProxy.make(node.url)
      const second = yield* FaultProxy.make(node.url)
      const config = (name: string, url: string) =>
        ChainConfig.chain({ name, chainId: node.chainId, endpoints: [{ url, maxConnections: 2 }] })
      const chains = Context.get(
        yield* Layer.build(Chains.layerMemory([config("a", first.url), config("b", second.url)])),
        Chains.Chains
      )
      const [a, b] = [yield* chains.client("a"), yield* chains.client("b")]
      assert.deepStrictEqual(yield* chains.names, ["a", "b"])
      // connecting a connected chain again hands out its client; disconnecting an unknown name does nothing
      assert.strictEqual(yield* chains.connect(config("a", first.url)), a)
      yield* chains.disconnect("c")
      assert.deepStrictEqual(yield* chains.names, ["a", "b"])
      yield* Effect.all([a.request("eth_blockNumber"), a.request("net_version"), b.request("net_version")], {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual([first.counts.requests, second.counts.requests], [2, 1])
      assert.deepStrictEqual((yield* a.health).map((endpoint) => [endpoint.url, endpoint.max]), [[first.url, 2]])
      assert.deepStrictEqual((yield* b.health).map((endpoint) => endpoint.url), [second.url])
    }))

  it.effect("connects a chain while running and forgets it, closing its connections, on disconnect", () =>
    Effect.gen(function*() {
      const node = yield* DevChain.DevChain
      const chains = yield* Chains.Chains
      const proxy = yield* FaultProxy.make(node.url)
      const config = ChainConfig.chain({ name: "late", chainId: node.chainId, endpoints: [{ url: proxy.url }] })
      const late = yield* chains.connect(config)
      assert.strictEqual(yield* chains.connect(config), late)
      assert.strictEqual(yield* late.request("net_version"), "31337")
      assert.deepStrictEqual(yield* chains.names, ["dev", "late"])
      yield* chains.disconnect("late")
      assert.deepStrictEqual(yield* chains.names, ["dev"])
      assert.strictEqual((yield* Effect.flip(chains.client("late"))).reason._tag, "UnknownChain")
      // the closed client's pool refuses work
      const exit = yield* Effect.exit(late.request("net_version"))
      assert.isTrue(exit._tag === "Failure")
    }))
})
