/**
 * A local development chain: a Hardhat 3 node (EDR) started as a child
 * process on a free 127.0.0.1 port, ready once it answers JSON-RPC, and
 * stopped when the layer's scope closes. Tests and the service's embedded
 * default use it; its 20 dev accounts are funded with 10 000 ETH each. The
 * node also exits when the process that started it dies without closing
 * the scope (it watches its stdin, a pipe from that process). `layerChains`
 * adds it to `@chainjobs/chain` as the chain `dev`.
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const chain = yield* DevChain
 *   console.log(chain.url, chain.accounts[0].address)
 * }).pipe(Effect.provide(DevChain.layer()))
 * ```
 *
 * @since 0.1.0
 */
import { type ChildProcess, spawn } from "node:child_process"
import { pbkdf2Sync } from "node:crypto"
import { createRequire } from "node:module"
import { createServer } from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { Context, Deferred, Duration, Effect, Layer, Schedule, Schema } from "effect"
import { type Address, type Hex, toHex } from "viem"
import { HDKey, hdKeyToAccount } from "viem/accounts"
import { ChainConfig, Chains } from "@chainjobs/chain"

/** A funded account of the dev chain, with its private key. */
export interface DevAccount {
  readonly address: Address
  readonly privateKey: Hex
}

/** Options of `layer`. */
export interface DevChainOptions {
  /** How long the node may take to answer its first request. Default: 30 seconds. */
  readonly startTimeout: Duration.Input
  /** How long a stopping node may take to exit before it is killed. Default: 5 seconds. */
  readonly stopTimeout: Duration.Input
}

/** The defaults of `DevChainOptions`. */
export const defaults: DevChainOptions = {
  startTimeout: "30 seconds",
  stopTimeout: "5 seconds"
}

/** The chain id of a Hardhat node. */
export const chainId = 31337

/** The mnemonic Hardhat derives its dev accounts from. */
export const mnemonic = "test test test test test test test test test test test junk"

/** The HD root of `mnemonic`: its BIP-39 seed (PBKDF2-HMAC-SHA512, 2048 rounds, no passphrase), made once, when an account is first read. */
let root: HDKey | undefined

/** Dev account `addressIndex` (BIP-44 path `m/44'/60'/0'/0/addressIndex`), as Hardhat derives it. */
const derive = (addressIndex: number): DevAccount => {
  root ??= HDKey.fromMasterSeed(pbkdf2Sync(mnemonic.normalize("NFKD"), "mnemonic", 2048, 64, "sha512"))
  const account = hdKeyToAccount(root, { addressIndex })
  return { address: account.address, privateKey: toHex(account.getHdKey().privateKey!) }
}

/** A read-only array whose item `index` is made by `make(index)` when it is first read, then kept. */
const lazyArray = <A>(length: number, make: (index: number) => A): ReadonlyArray<A> => {
  const made: Array<A | undefined> = new Array(length)
  const items = new Array<A>(length)
  for (let index = 0; index < length; index++) {
    Object.defineProperty(items, index, { enumerable: true, get: () => made[index] ??= make(index) })
  }
  return Object.freeze(items)
}

/**
 * The 20 dev accounts of a Hardhat node, derived from `mnemonic`. Each is
 * derived when first read (an array like any other to its readers): a
 * process that imports this module and never reads them — the service
 * without a dev chain — does not spend its start-up deriving keys.
 */
export const accounts: ReadonlyArray<DevAccount> = lazyArray(20, derive)

/** The dev chain failed: its process could not start, exited or never answered, or seeding it failed. */
export class DevChainError extends Schema.TaggedError<DevChainError>("@chainjobs/devchain/DevChainError")("DevChainError", {
  reason: Schema.Literals(["Spawn", "Exited", "Timeout", "Seed"]),
  detail: Schema.String
}) {
  override get message(): string {
    return `dev chain ${this.reason.toLowerCase()}: ${this.detail}`
  }
}

/** A running dev chain. */
export class DevChain extends Context.Service<DevChain, {
  /** Its HTTP JSON-RPC endpoint, e.g. `http://127.0.0.1:40123`. */
  readonly url: string
  /** Its WebSocket JSON-RPC endpoint. */
  readonly wsUrl: string
  /** The port it listens on. */
  readonly port: number
  /** Its chain id (31337). */
  readonly chainId: number
  /** Its funded dev accounts. */
  readonly accounts: ReadonlyArray<DevAccount>
}>()("@chainjobs/devchain/DevChain") {}

/** The package directory: Hardhat runs there so that it finds its config and its local install. */
const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..")
const hardhatCli = join(dirname(createRequire(import.meta.url).resolve("hardhat")), "cli.js")

/** A port that is free on 127.0.0.1 right now. */
const freePort = Effect.callback<number, DevChainError>((resume) => {
  const server = createServer()
  server.once("error", (cause) =>
    resume(Effect.fail(new DevChainError({ reason: "Spawn", detail: `no free port: ${cause.message}` }))))
  server.listen(0, "127.0.0.1", () => {
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    server.close(() => resume(Effect.succeed(port)))
  })
})

/**
 * Loaded into the node's process before Hardhat: the node exits once its
 * stdin (a pipe from this process) ends, which happens when this process
 * closes it or dies in any way, even by SIGKILL, so a node never outlives
 * the process that started it.
 */
const exitWithParent = `data:text/javascript,${
  encodeURIComponent(
    "process.stdin.on('end', () => process.exit(0)); process.stdin.on('error', () => process.exit(0)); process.stdin.resume()"
  )
}`

const stop = (child: ChildProcess, timeout: Duration.Input) =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    const timer = setTimeout(() => child.kill("SIGKILL"), Duration.toMillis(Duration.fromInputUnsafe(timeout)))
    child.once("exit", () => {
      clearTimeout(timer)
      resume(Effect.void)
    })
    child.stdin?.end()
    child.kill("SIGTERM")
  })

const answers = (url: string) =>
  Effect.tryPromise({
    try: (signal) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
        signal
      }).then((response) => response.json()),
    catch: () => new DevChainError({ reason: "Timeout", detail: `${url} does not answer` })
  })

/** Starts a Hardhat node; it is stopped when the scope closes. */
export const make = Effect.fn("DevChain.make")(function*(options: Partial<DevChainOptions> = {}) {
  const config = { ...defaults, ...options }
  const port = yield* freePort
  const exited = yield* Deferred.make<never, DevChainError>()
  const child = yield* Effect.acquireRelease(
    Effect.try({
      try: () =>
        spawn(
          process.execPath,
          ["--import", exitWithParent, hardhatCli, "node", "--hostname", "127.0.0.1", "--port", String(port)],
          { cwd: packageDir, stdio: ["pipe", "ignore", "pipe"] }
        ),
      catch: (cause) => new DevChainError({ reason: "Spawn", detail: String(cause) })
    }),
    (child) => stop(child, config.stopTimeout)
  )
  let stderr = ""
  child.stderr?.on("data", (chunk) => stderr = (stderr + String(chunk)).slice(-4096))
  // without a listener, a failed spawn (or a broken stdin pipe) would be thrown as an uncaught exception
  child.stdin?.on("error", () => {})
  child.once("error", (cause) =>
    Deferred.doneUnsafe(exited, Effect.fail(new DevChainError({ reason: "Spawn", detail: String(cause) }))))
  child.once("exit", (code, signal) =>
    Deferred.doneUnsafe(
      exited,
      Effect.fail(
        new DevChainError({ reason: "Exited", detail: `hardhat node exited (${signal ?? code}): ${stderr.trim()}` })
      )
    ))
  const url = `http://127.0.0.1:${port}`
  yield* answers(url).pipe(
    Effect.retry(Schedule.spaced("100 millis")),
    Effect.timeoutOrElse({
      duration: config.startTimeout,
      orElse: () =>
        Effect.fail(new DevChainError({ reason: "Timeout", detail: `hardhat node did not answer at ${url}` }))
    }),
    Effect.raceFirst(Deferred.await(exited))
  )
  return DevChain.of({ url, wsUrl: `ws://127.0.0.1:${port}`, port, chainId, accounts })
})

/** A dev chain for the lifetime of the layer. */
export const layer = (options: Partial<DevChainOptions> = {}): Layer.Layer<DevChain, DevChainError> =>
  Layer.effect(DevChain, make(options))

/** `Chains` with the dev chain it is given configured as the chain `dev`, on memory stores. */
export const chainsOnDevChain: Layer.Layer<Chains.Chains, never, DevChain> = Layer.unwrap(DevChain.use((chain) =>
  Effect.succeed(Chains.layerMemory([
    // a local node answers at once: a short head cache lets what follows the head see each block soon
    ChainConfig.chain({ name: "dev", chainId: chain.chainId, endpoints: [{ url: chain.url }], headTtl: "1 second" })
  ]))
))

/** A dev chain started for the layer's lifetime and configured as the chain `dev` of `Chains`, on memory stores. */
export const layerChains = (
  options: Partial<DevChainOptions> = {}
): Layer.Layer<Chains.Chains | DevChain, DevChainError> => chainsOnDevChain.pipe(Layer.provideMerge(layer(options)))
