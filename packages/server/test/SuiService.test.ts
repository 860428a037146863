import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Console, Duration, Effect, Exit, Redacted, Schedule } from "effect"
import * as Cli from "../src/Cli.ts"
import * as ServerConfig from "../src/ServerConfig.ts"
import * as SuiStandIn from "../../sui/test/SuiStandIn.ts"
import { baseUrl, request, testServer } from "./http.ts"

const [alice, bob] = ["0xa1", "0xb0b"].map((short) => `0x${short.slice(2).padStart(64, "0")}`) as [string, string]
const sui = "0x2::sui::SUI"

/** Retries `read` until `check` holds (the test's timeout bounds the wait). */
const eventually = <A, R>(read: Effect.Effect<A, never, R>, check: (a: A) => boolean) =>
  read.pipe(
    Effect.flatMap((a) => check(a) ? Effect.succeed(a) : Effect.fail("not yet" as const)),
    Effect.retry(Schedule.spaced("100 millis"))
  )

const loadFrom = (env: Record<string, string>) =>
  Effect.exit(Effect.provideService(ServerConfig.load, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))

describe("Sui networks in the service", () => {
  it.live("a watcher on a Sui network, declared by configuration, processes each transfer once, and its balance reads from the network", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      node.addCheckpoint([{ sender: bob, changes: [{ owner: bob, coinType: sui, amount: -5n }, { owner: alice, coinType: sui, amount: 5n }] }])
      const server = testServer({
        // an EVM chain beside it, never asked: the Sui network's name is served by its own adapter
        chains: [{ name: "evm", chainId: 31337, endpoints: [{ url: "http://127.0.0.1:9" }] }],
        suiNetworks: [{ name: "sui-test", endpoints: [{ url: node.url, headers: { "x-api-key": "service-key" } }] }],
        watchPollInterval: Duration.millis(100),
        watchers: [{
          name: "sui-deposits",
          chain: "sui-test",
          processor: "chainjobs.watch.record",
          accounts: [alice],
          confirmations: 1,
          startBlock: SuiStandIn.firstCheckpoint
        }]
      })
      yield* Effect.gen(function*() {
        node.addCheckpoint([{ sender: bob, changes: [{ owner: bob, coinType: sui, amount: -7n }, { owner: alice, coinType: sui, amount: 7n }] }])
        node.addCheckpoint([])
        const items = yield* eventually(
          Effect.map(request("GET", "/api/watch/watchers/sui-deposits/items"), (reply) => (reply.body?.items ?? []) as Array<any>),
          (items) => items.filter((item) => item.status === "processed").length >= 2
        )
        const processed = items.filter((item) => item.status === "processed")
        assert.deepStrictEqual(processed.map(({ item }) => [item.chain, item.kind, item.to, item.amount]).sort(), [
          ["sui-test", "native", alice, "5"],
          ["sui-test", "native", alice, "7"]
        ])
        assert.strictEqual(new Set(items.map((item) => item.id)).size, items.length)
        const balance = yield* request("GET", `/api/watch/balances/sui-test/${alice}/native`)
        assert.strictEqual(balance.status, 200)
        assert.strictEqual(balance.body.amount, "12")
        assert.isTrue(node.requests.every((request) => request.apiKey === "service-key"))
      }).pipe(Effect.provide(server))
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.effect("CHAINJOBS_SUI_NETWORKS is read; a name already used by a chain, or a bad value, stops the start naming the variable", () =>
    Effect.gen(function*() {
      const networks = [{ name: "sui-mainnet", endpoints: [{ url: "https://fullnode.mainnet.sui.io", headers: { "x-api-key": "k" } }], requestTimeoutMillis: 5000 }]
      const read = yield* loadFrom({ CHAINJOBS_SUI_NETWORKS: JSON.stringify(networks) })
      assert.isTrue(Exit.isSuccess(read))
      if (Exit.isSuccess(read)) assert.deepStrictEqual(read.value.suiNetworks as unknown, networks)
      for (
        const env of [
          // the dev chain is named dev
          { CHAINJOBS_SUI_NETWORKS: JSON.stringify([{ name: "dev", endpoints: [{ url: "http://127.0.0.1:1" }] }]) },
          {
            CHAINJOBS_CHAINS: JSON.stringify([{ name: "main", chainId: 1, endpoints: [{ url: "http://127.0.0.1:1" }] }]),
            CHAINJOBS_SUI_NETWORKS: JSON.stringify([{ name: "main", endpoints: [{ url: "http://127.0.0.1:2" }] }])
          },
          { CHAINJOBS_SUI_NETWORKS: JSON.stringify([{ name: "a", endpoints: [{ url: "http://x" }] }, { name: "a", endpoints: [{ url: "http://y" }] }]) },
          { CHAINJOBS_SUI_NETWORKS: JSON.stringify([{ name: "a", endpoints: [] }]) },
          { CHAINJOBS_SUI_NETWORKS: "[{" }
        ]
      ) {
        const exit = yield* loadFrom(env)
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) {
          const error = exit.cause.reasons.find((reason) => reason._tag === "Fail") as { error: ServerConfig.ServerConfigError }
          assert.strictEqual(error.error._tag, "ServerConfigError")
          assert.include(error.error.message, "CHAINJOBS_SUI_NETWORKS")
        }
      }
    }))
})

/** Runs `chainjobs --url <server under test> ...args` in process, capturing what it prints. */
const chainjobs = (...args: Array<string>) =>
  Effect.gen(function*() {
    const base = yield* baseUrl
    const lines: Array<string> = []
    const capture = { ...globalThis.console, log: (...parts: Array<unknown>) => lines.push(parts.join(" ")) }
    const exit = yield* Cli.run(["--url", base, ...args]).pipe(Effect.provideService(Console.Console, capture), Effect.provide(NodeServices.layer), Effect.exit)
    return { exit, lines, failure: Exit.isFailure(exit) ? Cause.pretty(exit.cause) : "" }
  })

describe("Sui networks over REST and the CLI", () => {
  it.live("GET /api/sui/networks and /api/sui/networks/:network/check behind the tokens; chainjobs sui check --network asks the service", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      node.addCheckpoint([])
      const server = testServer({
        chains: [{ name: "evm", chainId: 31337, endpoints: [{ url: "http://127.0.0.1:9" }] }],
        suiNetworks: [
          { name: "sui-test", endpoints: [{ url: node.url, headers: { "x-api-key": "service-key" } }] },
          { name: "sui-dead", endpoints: [{ url: "http://127.0.0.1:9" }] }
        ],
        authTokens: { alice: Redacted.make("alice-token") }
      })
      yield* Effect.gen(function*() {
        assert.strictEqual((yield* request("GET", "/api/sui/networks")).status, 401)
        const listed = yield* request("GET", "/api/sui/networks", { token: "alice-token" })
        assert.deepStrictEqual(listed.body, [{ network: "sui-test", endpoints: [node.url] }, { network: "sui-dead", endpoints: ["http://127.0.0.1:9"] }])
        const checked = yield* request("GET", "/api/sui/networks/sui-test/check", { token: "alice-token" })
        assert.strictEqual(checked.status, 200)
        assert.deepInclude(checked.body, { endpoint: node.url, chainIdentifier: "4c78adac", latestCheckpoint: SuiStandIn.firstCheckpoint + 1 })
        assert.isTrue(node.requests.every((request) => request.apiKey === "service-key"))
        const unknown = yield* request("GET", "/api/sui/networks/nope/check", { token: "alice-token" })
        assert.strictEqual(unknown.status, 404)
        assert.deepInclude(unknown.body, { _tag: "SuiNetworkNotFound", network: "nope", configured: ["sui-test", "sui-dead"] })
        const dead = yield* request("GET", "/api/sui/networks/sui-dead/check", { token: "alice-token" })
        assert.strictEqual(dead.status, 503)
        assert.strictEqual(dead.body._tag, "SuiNetworkUnreachable")

        const cli = yield* chainjobs("--token", "alice-token", "sui", "check", "--network", "sui-test")
        assert.isTrue(Exit.isSuccess(cli.exit), cli.failure)
        assert.match(cli.lines.join("\n"), new RegExp(`^${node.url}  chain 4c78adac \\(testnet\\)  checkpoint ${SuiStandIn.firstCheckpoint + 1}  \\d+ ms$`))
        assert.include((yield* chainjobs("--token", "alice-token", "sui", "check", "--network", "nope")).failure, 'no Sui network "nope"')
        for (const args of [[], ["--network", "sui-test", "--endpoint", node.url]]) {
          assert.include((yield* chainjobs("--token", "alice-token", "sui", "check", ...args)).failure, "give either --endpoint <url> or --network <name>")
        }
      }).pipe(Effect.provide(server))
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("every asset of an address over REST and chainjobs balance --asset all; one coin type by its name", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const usdc = "0x168da5bf1f48dafc111b0a488fa454aca95e0b5e::usdc::USDC"
      const usdcCanonical = `0x${"168da5bf1f48dafc111b0a488fa454aca95e0b5e".padStart(64, "0")}::usdc::USDC`
      node.setBalance(alice, sui, 12n)
      node.setBalance(alice, usdc, 3n)
      const server = testServer({
        chains: [{ name: "evm", chainId: 31337, endpoints: [{ url: "http://127.0.0.1:9" }] }],
        suiNetworks: [{ name: "sui-test", endpoints: [{ url: node.url }] }]
      })
      yield* Effect.gen(function*() {
        const all = yield* request("GET", `/api/watch/balances/sui-test/${alice}`)
        assert.strictEqual(all.status, 200)
        assert.deepStrictEqual((all.body as Array<any>).map((b) => [b.asset, b.amount, b.fromChain]), [["native", "12", true], [usdcCanonical, "3", true]])
        const cli = yield* chainjobs("balance", "sui-test", alice, "--asset", "all")
        assert.isTrue(Exit.isSuccess(cli.exit), cli.failure)
        assert.deepStrictEqual(cli.lines.join("\n").split("\n").map((line) => line.replace(/cached \d+ ms ago/, "cached")), [
          "native  12  (pending in 0, out 0; cached)",
          `${usdcCanonical}  3  (pending in 0, out 0; cached)`
        ])
        const one = yield* request("GET", `/api/watch/balances/sui-test/${alice}/${encodeURIComponent(usdc)}`)
        assert.strictEqual(one.status, 200)
        assert.deepInclude(one.body, { asset: usdcCanonical, amount: "3" })
        const bad = yield* request("GET", `/api/watch/balances/sui-test/${alice}/${encodeURIComponent("0x2::sui")}`)
        assert.strictEqual(bad.status, 400)
        // objects are watched on a Sui network only, by valid ids; nothing is stored otherwise
        const spec = { name: "objects", processor: "chainjobs.watch.record", confirmations: 1, startBlock: 1 }
        const onEvm = yield* request("POST", "/api/watch/watchers", { body: { ...spec, chain: "evm", objects: ["0x9001"] } })
        assert.strictEqual(onEvm.status, 400)
        assert.include(JSON.stringify(onEvm.body), 'chain \\"evm\\" (evm) has no objects to watch')
        const badId = yield* request("POST", "/api/watch/watchers", { body: { ...spec, chain: "sui-test", objects: ["0x9001", "pool"] } })
        assert.strictEqual(badId.status, 400)
        assert.include(JSON.stringify(badId.body), "is not a Sui object id")
        assert.deepStrictEqual((yield* request("GET", "/api/watch/watchers")).body, [])
        const added = yield* request("POST", "/api/watch/watchers", { body: { ...spec, chain: "sui-test", objects: ["0x9001"] } })
        assert.deepInclude(added.body, { name: "objects", objects: [`0x${"9001".padStart(64, "0")}`] })
      }).pipe(Effect.provide(server))
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
