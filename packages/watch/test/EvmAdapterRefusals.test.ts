/**
 * What `EvmAdapter` refuses, on a real Hardhat node, with the reason a user
 * reads: a token balance asked of an address without code (the node answers
 * `0x`, no amount) is an `Invalid` naming the asset, not a defect; an event
 * signature that does not parse is refused with the first line of the
 * parser's reason. Then, against a scripted endpoint (fault injection), a
 * `balanceOf` answer that is no hex string is refused too, even one whose
 * text would read as hex (a list holding one).
 */
import { Chains } from "@chainjobs/chain"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { ChainAdapters } from "../src/ChainAdapter.ts"
import * as EvmAdapter from "../src/EvmAdapter.ts"
import { address, DevChain, devChainConfig, numbered, reasonOf } from "./fixtures.ts"

const adapter = Effect.flatMap(ChainAdapters, (adapters) => adapters.adapter("dev"))

const chains = EvmAdapter.layer.pipe(Layer.provideMerge(DevChain.layerChains()))

layer(chains, { excludeTestServices: true, timeout: 120_000 })("EvmAdapter refusals", (it) => {
  it.effect("a token balance at an address without code is refused as no token contract", () =>
    Effect.gen(function*() {
      const evm = yield* adapter
      const nowhere = numbered(0xdead)
      assert.deepStrictEqual(reasonOf(yield* Effect.exit(evm.balance(address(3), nowhere))), [
        "Invalid",
        `watcher "balances": asset ${nowhere} on dev answered balanceOf with "0x": no token contract there`
      ])
    }), 60_000)

  it.effect("an event signature that does not parse is refused with the parser's first line", () =>
    Effect.gen(function*() {
      const evm = yield* adapter
      assert.strictEqual(
        evm.checkContract({ address: address(3), events: ["Transfer(address indexed from, address indexed to, uint256 value)", "Transfer(address indexed from"] }),
        `"Transfer(address indexed from" is not an event signature: Unknown signature.`
      )
    }), 60_000)
})

/** A JSON-RPC endpoint on 127.0.0.1 answering every call with `result`; closed with the scope. */
const answering = (result: unknown) =>
  Effect.acquireRelease(
    Effect.callback<ReturnType<typeof createServer>>((resume) => {
      const server = createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const call = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { readonly id: number }
          response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", id: call.id, result }))
        })
      })
      server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.sync(() => {
      server.closeAllConnections()
      server.close()
    })
  ).pipe(Effect.map((server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`))

describe("EvmAdapter refusals, scripted answers", () => {
  it.live("a balanceOf answer that is not a hex string is refused, even a list whose text is hex", () =>
    Effect.gen(function*() {
      const url = yield* answering(["0x10"])
      const token = numbered(0xbeef)
      const refusal = yield* Effect.flatMap(adapter, (evm) => Effect.exit(evm.balance(address(3), token))).pipe(
        Effect.provide(EvmAdapter.layer.pipe(Layer.provide(Chains.layerMemory([devChainConfig(url)]))))
      )
      assert.deepStrictEqual(reasonOf(refusal), [
        "Invalid",
        `watcher "balances": asset ${token} on dev answered balanceOf with ["0x10"]: no token contract there`
      ])
    }).pipe(Effect.scoped), 30_000)
})
