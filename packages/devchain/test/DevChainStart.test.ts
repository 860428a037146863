/**
 * The dev chain's addresses, accounts and start: its HTTP and WebSocket
 * URLs on its port; Hardhat's well-known dev accounts, derived once and kept;
 * a node that does not answer within `startTimeout` failing with a typed
 * `Timeout` and stopped; and `layerChains` adding it as the chain `dev`.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Chains } from "@chainjobs/chain"
import { execFileSync } from "node:child_process"
import { Effect, Exit, Scope } from "effect"
import * as DevChain from "../src/DevChain.ts"
import { nodeBoundMillis } from "./nodeBound.ts"

/** The pids of processes whose command line contains the text. */
const pidsWith = (text: string) =>
  execFileSync("ps", ["-eo", "pid=,args="]).toString().split("\n")
    .filter((line) => line.includes(text) && !line.includes("ps -eo"))
    .map((line) => Number(line.trim().split(" ")[0]))

describe("DevChain accounts", () => {
  it("are Hardhat's well-known dev accounts, 20 distinct ones, each derived once", () => {
    assert.strictEqual(DevChain.accounts.length, 20)
    assert.deepStrictEqual(DevChain.accounts[0], {
      address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
      privateKey: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    })
    assert.strictEqual(DevChain.accounts[19]!.address, "0x8626f6940E2eb28930eFb4CeF49B2d1F2C9C1199")
    assert.strictEqual(new Set(DevChain.accounts.map((account) => account.address)).size, 20)
    assert.strictEqual(DevChain.accounts[3], DevChain.accounts[3])
    assert.deepStrictEqual(Object.keys(DevChain.accounts).length, 20)
  })

  it("a DevChainError says which step failed", () => {
    const error = new DevChain.DevChainError({ reason: "Timeout", detail: "hardhat node did not answer at http://127.0.0.1:1" })
    assert.strictEqual(error.message, "dev chain timeout: hardhat node did not answer at http://127.0.0.1:1")
  })
})

describe("DevChain.make, too slow to start", () => {
  it.live("fails with Timeout when the node does not answer within startTimeout, and stops it", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const exit = yield* Effect.exit(DevChain.make({ startTimeout: "1 millis" }).pipe(Scope.provide(scope)))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons.find((reason) => reason._tag === "Fail")?.error : undefined
      assert.strictEqual(error?._tag, "DevChainError")
      assert.strictEqual(error?.reason, "Timeout")
      assert.match(error?.detail ?? "", /^hardhat node did not answer at http:\/\/127\.0\.0\.1:\d+$/)
      const port = new URL((error?.detail ?? "").split(" at ")[1]!).port
      yield* Scope.close(scope, Exit.void)
      const left = pidsWith(`--port ${port}`)
      for (const pid of left) process.kill(pid, "SIGKILL")
      assert.deepStrictEqual(left, [], "the node outlived its scope")
    }), 30_000)
})

layer(DevChain.layerChains(), { excludeTestServices: true, timeout: nodeBoundMillis })("DevChain.layerChains", (it) => {
  it.effect("serves HTTP and WebSocket on its port, and is the chain `dev` of Chains", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      assert.strictEqual(chain.url, `http://127.0.0.1:${chain.port}`)
      assert.strictEqual(chain.wsUrl, `ws://127.0.0.1:${chain.port}`)
      assert.strictEqual(chain.chainId, 31337)
      const chains = yield* Chains.Chains
      assert.deepStrictEqual(yield* chains.names, ["dev"])
      const dev = yield* chains.client("dev")
      assert.strictEqual(dev.chainId, 31337)
      assert.strictEqual(yield* dev.request("eth_chainId"), "0x7a69")
      assert.deepStrictEqual((yield* dev.health).map((endpoint) => endpoint.url), [chain.url])
    }))
})
