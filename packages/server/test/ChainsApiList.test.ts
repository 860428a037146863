/**
 * `GET /api/chains` when a listed chain is gone by the time its status is
 * read (disconnected between `Chains.names` and `Chains.client`): the list
 * leaves that chain out and answers the others, rather than failing. The
 * race is made deterministic by a `Chains` whose `names` also names a chain
 * it has no client for. In process: the API's routes alone, as a web
 * handler, over chains whose only endpoint is never called (listing reads
 * the pools' state, not the node).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { HttpRouter } from "effect/http"
import { NodeHttpServer } from "@effect/platform-node"
import { ChainConfig, Chains } from "@chainjobs/chain"
import * as Access from "../src/Access.ts"
import * as ChainsApi from "../src/ChainsApi.ts"
import * as ServerConfig from "../src/ServerConfig.ts"

/** `Chains` over the connected chain `dev`, whose `names` also lists `gone`, which has no client (as after a disconnect). */
const racingChains = Layer.effect(
  Chains.Chains,
  Effect.gen(function*() {
    const chains = yield* Chains.Chains
    return Chains.Chains.of({ ...chains, names: Effect.map(chains.names, (names) => [...names, "gone"]) })
  })
).pipe(
  Layer.provide(Chains.layerMemory([ChainConfig.chain({ name: "dev", chainId: 31337, endpoints: [{ url: "http://127.0.0.1:9/" }] })]))
)

const routes = ChainsApi.layer.pipe(
  Layer.provide(Access.layerRest),
  Layer.provide(Access.layerPrincipals),
  Layer.provide(ServerConfig.layerTest()),
  Layer.provide(racingChains),
  Layer.provide(NodeHttpServer.layerHttpServices)
)

describe("GET /api/chains", () => {
  it.effect("leaves out a chain that is gone when its status is read, and lists the others", () =>
    Effect.gen(function*() {
      const { dispose, handler } = HttpRouter.toWebHandler(routes, { disableLogger: true })
      yield* Effect.addFinalizer(() => Effect.promise(dispose))
      const response = yield* Effect.promise(() => handler(new Request("http://127.0.0.1/api/chains")))
      assert.strictEqual(response.status, 200)
      const listed = yield* Effect.promise(() => response.json() as Promise<ReadonlyArray<{ readonly chain: string }>>)
      assert.deepStrictEqual(listed.map((status) => status.chain), ["dev"])
    }).pipe(Effect.scoped))
})
