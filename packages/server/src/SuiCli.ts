/**
 * The Sui part of the `chainjobs` command line: a connection check of a Sui
 * full node, either run from this machine (`--endpoint`, no chainjobs server
 * needed) through the same endpoint layers (pool, rate-limit pause, timeout,
 * retries, breaker) the Sui adapter uses, or asked of the service for one of
 * its configured networks (`--network`, over `/api/sui` with the shared
 * `--url` and `--token`):
 *
 * ```
 * chainjobs sui check --endpoint https://fullnode.mainnet.sui.io [--header x-api-key:…] [--json]
 * chainjobs sui check --network sui-mainnet [--json]
 * ```
 *
 * It prints the endpoint, the chain identifier (`35834a8a` is mainnet,
 * `4c78adac` testnet), the latest checkpoint and the latency, and exits 1
 * naming the cause when the endpoint cannot be used.
 *
 * @since 0.1.0
 */
import { SuiCheck } from "@chainjobs/sui"
import { Console, Effect, Option, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import * as ApiClientFailure from "./ApiClientFailure.ts"
import * as SuiApi from "./SuiApi.ts"
import * as CliRequests from "./CliRequests.ts"

/** A `sui` command could not do what it was asked; `message` says why. */
export class SuiCliError extends Schema.TaggedError<SuiCliError>("@chainjobs/server/SuiCliError")("SuiCliError", {
  endpoint: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `sui check of ${this.endpoint}: ${this.detail}`
  }
}

/** Names of the Sui networks by chain identifier, for the check's report. */
export const knownNetworks: Readonly<Record<string, string>> = { "35834a8a": "mainnet", "4c78adac": "testnet" }

/** A check's result on one line: endpoint, chain identifier (and network when known), latest checkpoint, latency. */
export const describeCheck = (result: SuiCheck.SuiCheckResult): string =>
  [
    result.endpoint,
    `chain ${result.chainIdentifier}${knownNetworks[result.chainIdentifier] === undefined ? "" : ` (${knownNetworks[result.chainIdentifier]})`}`,
    `checkpoint ${result.latestCheckpoint}`,
    `${result.latencyMillis} ms`
  ].join("  ")

/** Reads `name:value` header flags into a record; a flag without a colon or a name is refused. */
export const parseHeaders = (endpoint: string, flags: ReadonlyArray<string>): Effect.Effect<Record<string, string>, SuiCliError> =>
  Effect.forEach(flags, (flag) => {
    const colon = flag.indexOf(":")
    const name = colon < 0 ? "" : flag.slice(0, colon).trim()
    return name === "" || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)
      ? Effect.fail(new SuiCliError({ endpoint, detail: `--header "${flag}" is not name:value` }))
      : Effect.succeed([name, flag.slice(colon + 1).trim()] as const)
  }).pipe(Effect.map((entries) => Object.fromEntries(entries)))

/** Checks that the endpoint is an http(s) URL. */
const checkEndpoint = (endpoint: string): Effect.Effect<string, SuiCliError> => {
  try {
    const url = new URL(endpoint)
    return url.protocol === "http:" || url.protocol === "https:"
      ? Effect.succeed(endpoint)
      : Effect.fail(new SuiCliError({ endpoint, detail: "the endpoint must be an http(s) URL" }))
  } catch {
    return Effect.fail(new SuiCliError({ endpoint, detail: "the endpoint is not a URL" }))
  }
}

/** Where the server is and who calls: the command line's shared flags. */
export interface Target {
  readonly url: string
  readonly token: string
  /** The time limit of a request, in seconds (`--timeout`; see `CliRequests`). */
  readonly timeout: number
}

/** The check of a configured network, asked of the service; every failure a `SuiCliError` naming the network. */
const checkRemote = (target: Target, network: string) =>
  SuiApi.client(target.url, target.token).pipe(
    Effect.flatMap((client) => client.sui.check({ params: { network } })),
    Effect.mapError((error) =>
      new SuiCliError({
        endpoint: network,
        detail: ApiClientFailure.failureDetail(target.url, error, "has no Sui networks (it was started without any)")
      })
    ),
    Effect.provide(CliRequests.layerHttp({ url: target.url, seconds: target.timeout }))
  )

/** The check of an endpoint from here. */
const checkLocal = (endpoint: string, header: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    yield* checkEndpoint(endpoint)
    const headers = yield* parseHeaders(endpoint, header)
    return yield* SuiCheck.checkUrl(endpoint, { headers }).pipe(
      Effect.mapError((error) => new SuiCliError({ endpoint, detail: error.message }))
    )
  })

/** The `sui` command and its subcommands, reading the shared flags from `target`. */
export const commands = <R>(target: Effect.Effect<Target, never, R>) => {
  const check = Command.make("check", {
    endpoint: Flag.String("endpoint").pipe(Flag.withDescription("A Sui full node's JSON-RPC URL, checked from here"), Flag.optional),
    network: Flag.String("network").pipe(Flag.withDescription("A Sui network configured on the service, checked by the service"), Flag.optional),
    header: Flag.String("header").pipe(
      Flag.withDescription("With --endpoint: a header sent with every request, name:value (e.g. a provider's API key); repeatable"),
      Flag.atLeast(0)
    ),
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON, for scripts"), Flag.withDefault(false))
  }, ({ endpoint, header, json, network }) =>
    Effect.gen(function*() {
      const result = Option.isSome(endpoint) && Option.isNone(network)
        ? yield* checkLocal(endpoint.value, header)
        : Option.isSome(network) && Option.isNone(endpoint)
        ? yield* Effect.flatMap(target, (t) => checkRemote(t, network.value))
        : yield* new SuiCliError({ endpoint: "-", detail: "give either --endpoint <url> or --network <name>" })
      yield* Console.log(json ? JSON.stringify(result, null, 2) : describeCheck(result))
    })).pipe(Command.withDescription("Check a Sui full node (--endpoint) or a network of the service (--network): chain identifier, latest checkpoint, latency"))

  const sui = Command.make("sui").pipe(
    Command.withDescription("Sui networks: check an endpoint or a configured network"),
    Command.withSubcommands([check])
  )
  return [sui] as const
}
