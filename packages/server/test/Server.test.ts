import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { HttpServer } from "effect/http"
import { listenBacklog } from "../src/Server.ts"
import type { ChainSetting } from "../src/ServerConfig.ts"
import { request, testServer } from "./http.ts"

const kindNames = Effect.map(request("GET", "/api/kinds"), (reply) => reply.body.map((kind: any) => kind.name).sort())

describe("Server", () => {
  layer(testServer(), { excludeTestServices: true })("without chains", (it) => {
    it.effect("only the demo kinds are registered", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* kindNames, ["demo-fail", "demo-scan"])
      }))

    it.effect("the listening socket's accept queue is the one asked for (as far as the kernel allows), not Node's 511", () =>
      Effect.gen(function*() {
        const address = (yield* HttpServer.HttpServer).address
        if (address._tag === "UnixPathAddress") return assert.fail("the server listens on a path, not a port")
        // For a listening socket, `ss` shows the accept queue's limit as Send-Q.
        const line = execFileSync("ss", ["-ltnH", `sport = :${address.port}`], { encoding: "utf8" }).trim()
        const limit = Number(line.split(/\s+/)[2])
        const somaxconn = Number(readFileSync("/proc/sys/net/core/somaxconn", "utf8"))
        assert.strictEqual(limit, Math.min(listenBacklog, somaxconn), `ss: ${line}`)
        assert.isAbove(limit, 511, `ss: ${line}`)
      }))
  })

  const mainnet: ChainSetting = { name: "mainnet", chainId: 1, endpoints: [{ url: "http://127.0.0.1:9/never-called" }] }
  layer(testServer({ chains: [mainnet] }), { excludeTestServices: true })("with configured chains", (it) => {
    it.effect("the chain kinds are registered too, on the configured chains", () =>
      Effect.gen(function*() {
        const names: Array<string> = yield* kindNames
        assert.includeMembers(names, ["demo-fail", "demo-scan", "chain/fetch-blocks", "chain/scan-addresses", "chain/sync-events"])
        // With chains come the watchers' kinds too: the service's processor and the balance upkeep.
        assert.includeMembers(names, ["chainjobs.watch.record", "chainjobs.balances.refresh-stale", "chainjobs.balances.reconcile"])
        assert.isTrue(names.every((name) => name.startsWith("chain/") || name.startsWith("demo-") || name.startsWith("chainjobs.")))
        const unknownChain = yield* request("POST", "/api/tasks/chain%2Ffetch-blocks?wait=true", {
          body: { chain: "ropsten", fromBlock: 1, toBlock: 2 }
        })
        assert.strictEqual(unknownChain.body.status, "failed")
        assert.include(unknownChain.body.errorMessage, "ropsten")
      }))
  })

  layer(testServer({ devChain: true }), { excludeTestServices: true, timeout: "60 seconds" })("on the embedded dev chain", (it) => {
    it.effect("a chain scan over the seeded blocks finds their activity", () =>
      Effect.gen(function*() {
        const head = yield* request("POST", "/api/tasks/chain%2Ffetch-blocks?wait=true", {
          body: { chain: "dev", fromBlock: 1, toBlock: 5 }
        })
        assert.strictEqual(head.body.status, "completed")
        assert.strictEqual(head.body.result.toBlock, 5)
        const scan = yield* request("POST", "/api/tasks/chain%2Fscan-addresses?wait=true", {
          body: { chain: "dev", addresses: ["0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"], fromBlock: 1, toBlock: 40 }
        })
        assert.strictEqual(scan.body.status, "completed")
        assert.isAbove(scan.body.result.activity.length, 0)
      }), { timeout: 60_000 })
  })
})
