/**
 * Several chains at once, each through its own pooled, rate-limited
 * endpoints with failover: two local Hardhat nodes stand for two chains,
 * `alpha` and `beta`, each configured with a primary endpoint that answers
 * every request with HTTP 503 and a fallback (the node itself) with a pool of
 * 4 connections and a budget of 100 requests a second. A scan runs on each
 * chain at once, to the head; every request the primary fails moves on to the
 * fallback, and after 3 failures the primary's circuit opens and it is
 * skipped. Then each chain is checked and its endpoints' pools, circuits,
 * budgets and request counts are printed (what `GET /api/chains` and
 * `chainjobs chains` show of a running service).
 */
import { NodeRuntime } from "@effect/platform-node"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import { Console, Context, Effect, Layer } from "effect"
import { BlockFeed, ChainCheck, ChainConfig, Chains, ChainTasks } from "@chainjobs/chain"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import { TaskStore, Tasks } from "@chainjobs/tasks"

/** An endpoint that answers every request with 503, on 127.0.0.1, closed with the scope. */
const failingEndpoint = Effect.acquireRelease(
  Effect.callback<{ readonly url: string; readonly close: () => void }>((resume) => {
    const server = createServer((_, response) => response.writeHead(503).end("unavailable"))
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => server.close() })))
  }),
  (endpoint) => Effect.sync(endpoint.close)
)

/** A chain on a local node: its primary endpoint fails; the node is the fallback, pooled and rate-limited. */
const chainOn = (name: string, node: DevChain.DevChain["Service"], primary: string) =>
  ChainConfig.chain({
    name,
    chainId: node.chainId,
    endpoints: [
      { url: primary },
      { url: node.url, maxConnections: 4, rateLimit: { limit: 100, window: "1 second" } }
    ],
    breaker: { failures: 3, openDuration: "1 minute" },
    headTtl: "1 second"
  })

/** An endpoint's state on one line. */
const describe = (role: string, endpoint: ChainCheck.EndpointState) =>
  [
    `  ${role.padEnd(8)}`,
    `circuit ${endpoint.circuit.padEnd(6)}`,
    endpoint.failures === endpoint.requests ? "every request failed" : `${endpoint.failures} failed`,
    `pool ${endpoint.inUse}/${endpoint.max} in use`,
    endpoint.rateLimit === null ? "no rate limit" : `budget ${endpoint.rateLimit.limit} per ${endpoint.rateLimit.windowMillis} ms`
  ].join("  ")

const program = Effect.gen(function*() {
  const names = ["alpha", "beta"] as const
  const nodes = yield* Effect.all([DevChain.make(), DevChain.make()], { concurrency: 2 })
  const seeded = yield* Effect.forEach(nodes, (node) => DevSeed.seed({ rounds: 15 }).pipe(Effect.provideService(DevChain.DevChain, node)))
  const primary = yield* failingEndpoint
  yield* Console.log("two chains up: alpha and beta, each behind a failing primary and a pooled, rate-limited fallback")

  const runtime = yield* Layer.build(
    ChainTasks.layer.pipe(
      Layer.provideMerge(Tasks.layer()),
      Layer.provideMerge(TaskStore.layerMemory),
      Layer.provideMerge(Chains.layerMemory(names.map((name, index) => chainOn(name, nodes[index]!, primary.url)))),
      Layer.provideMerge(BlockFeed.layerMemory)
    )
  )
  const tasks = Context.get(runtime, Tasks.Tasks)
  const chains = Context.get(runtime, Chains.Chains)

  // one scan on each chain, at once, to the head
  const results = yield* Effect.forEach(names, (chain, index) => {
    const wallets = [seeded[index]!.participants[1]!, seeded[index]!.participants[2]!]
    return Effect.map(
      tasks.run(ChainTasks.ScanAddresses, { chain, addresses: wallets, fromBlock: seeded[index]!.fromBlock, chunkSize: 5 }),
      (result) => ({ chain, result, expected: DevSeed.expectedFor(seeded[index]!, wallets) })
    )
  }, { concurrency: "unbounded" })
  for (const { chain, expected, result } of results) {
    const same = result.activity.length === expected.length &&
      result.activity.every((item, i) => item.transactionHash === expected[i]!.transactionHash)
    yield* Console.log(`${chain}: scanned 2 wallets to the head; exactly the seeded activity: ${same}`)
  }

  // each chain checked, and its endpoints' pools, circuits, budgets and counts
  for (const chain of names) {
    const client = yield* chains.client(chain)
    const check = yield* ChainCheck.check(client)
    yield* Console.log(`${chain}: chain id ${check.chainId} ${check.chainIdMatches ? "as configured" : "MISMATCH"}, head read live`)
    const [first, fallback] = check.endpoints
    yield* Console.log(describe("primary", first!))
    yield* Console.log(describe("fallback", fallback!))
  }
})

NodeRuntime.runMain(program.pipe(Effect.scoped))
