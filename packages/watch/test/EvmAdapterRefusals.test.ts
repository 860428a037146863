/**
 * What `EvmAdapter` refuses, on a real Hardhat node, with the reason a user
 * reads: a token balance asked of an address without code (the node answers
 * `0x`, no amount) is an `Invalid` naming the asset, not a defect; an event
 * signature that does not parse is refused with the first line of the
 * parser's reason. Then, against a scripted endpoint (fault injection), a
 * `balanceOf` answer that is no hex string is refused too, even one whose
 * text would read as hex (a list holding one) or that holds hex with text
 * before or after it; a receipt the node lacks is `Pending`, one it holds
 * `Included` with its block and status; an account in mixed case is taken
 * whatever its checksum; a chain's adapter is made once.
 */
import { Chains } from "@chainjobs/chain"
import { assert, describe, it, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { type ChainAdapter, ChainAdapters } from "../src/ChainAdapter.ts"
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

/** One JSON-RPC call as a scripted endpoint received it. */
interface Call {
  readonly id: number
  readonly method: string
  readonly params: ReadonlyArray<unknown>
}

/**
 * A JSON-RPC endpoint on 127.0.0.1 answering each call with `answer(call)`, and the client's `eth_chainId` question
 * with the dev chain's id; closed with the scope.
 */
const scripted = (answer: (call: Call) => unknown) =>
  Effect.acquireRelease(
    Effect.callback<ReturnType<typeof createServer>>((resume) => {
      const server = createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const call = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Call
          const result = call.method === "eth_chainId" ? `0x${DevChain.chainId.toString(16)}` : answer(call)
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

/** A JSON-RPC endpoint on 127.0.0.1 answering every call with `result`. */
const answering = (result: unknown) => scripted(() => result)

/** The adapter of the chain `dev` served at `url`, used by `use`. */
const onEndpoint = <A, E>(url: string, use: (evm: ChainAdapter) => Effect.Effect<A, E>) =>
  Effect.flatMap(adapter, use).pipe(Effect.provide(EvmAdapter.layer.pipe(Layer.provide(Chains.layerMemory([devChainConfig(url)])))))

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

describe("EvmAdapter answers, scripted", () => {
  it.live("a balance answer is hex from its start to its end: text before 0x or after the digits is refused", () =>
    Effect.gen(function*() {
      for (const answer of ["0x1z", "z0x1"]) {
        const url = yield* answering(answer)
        const refusal = yield* onEndpoint(url, (evm) => Effect.exit(evm.balance(address(3), "native")))
        assert.deepStrictEqual(reasonOf(refusal), [
          "Invalid",
          `watcher "balances": asset native on dev answered balanceOf with ${JSON.stringify(answer)}: no token contract there`
        ], answer)
      }
    }).pipe(Effect.scoped), 30_000)

  it.live("a receipt the node does not hold is Pending; one it holds is Included at its block, succeeded by its status", () =>
    Effect.gen(function*() {
      const receipts: Record<string, unknown> = {
        "0x01": null,
        "0x02": { blockNumber: "0x2a", status: "0x1" },
        "0x03": { blockNumber: "0x2b", status: "0x0" }
      }
      const url = yield* scripted((call) => call.method === "eth_getTransactionReceipt" ? receipts[call.params[0] as string] : null)
      const statuses = yield* onEndpoint(url, (evm) => Effect.forEach(Object.keys(receipts), (hash) => evm.transactionStatus(hash)))
      assert.deepStrictEqual(statuses, [
        { _tag: "Pending" },
        { _tag: "Included", block: 42, succeeded: true },
        { _tag: "Included", block: 43, succeeded: false }
      ])
    }).pipe(Effect.scoped), 30_000)

  it.live("an account in mixed case is taken whatever its checksum, as its lower-case spelling", () =>
    Effect.gen(function*() {
      const url = yield* answering(null)
      // a valid EIP-55 spelling with one letter's case flipped: its checksum no longer holds
      const spelled = "0x52908400098527886E0F7030069857D2E4169EE7".replace("E0F", "e0F")
      const normalized = yield* onEndpoint(url, (evm) => Effect.sync(() => evm.normalizeAccount(spelled)))
      assert.deepStrictEqual(normalized, { ok: true, account: spelled.toLowerCase() })
    }).pipe(Effect.scoped), 30_000)

  it.live("a chain's adapter is made once: asked for again, it is the same adapter", () =>
    Effect.gen(function*() {
      const url = yield* answering(null)
      const [first, second] = yield* Effect.all([adapter, adapter]).pipe(
        Effect.provide(EvmAdapter.layer.pipe(Layer.provide(Chains.layerMemory([devChainConfig(url)]))))
      )
      assert.strictEqual(first, second)
    }).pipe(Effect.scoped), 30_000)
})
