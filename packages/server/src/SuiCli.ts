/**
 * The Sui part of the `chainjobs` command line: a connection check of a Sui
 * full node, run from this machine (no chainjobs server needed), through the
 * same endpoint layers (pool, rate-limit pause, timeout, retries, breaker) the
 * Sui adapter uses:
 *
 * ```
 * chainjobs sui check --endpoint https://fullnode.mainnet.sui.io [--header x-api-key:…] [--json]
 * ```
 *
 * It prints the endpoint, the chain identifier (`35834a8a` is mainnet,
 * `4c78adac` testnet), the latest checkpoint and the latency, and exits 1
 * naming the cause when the endpoint cannot be used.
 *
 * @since 0.1.0
 */
import { SuiCheck } from "@chainjobs/sui"
import { Console, Effect, Schema } from "effect"
import { Command, Flag } from "effect/cli"

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

const check = Command.make("check", {
  endpoint: Flag.String("endpoint").pipe(Flag.withDescription("The Sui full node's JSON-RPC URL")),
  header: Flag.String("header").pipe(
    Flag.withDescription("A header sent with every request, name:value (e.g. a provider's API key); repeatable"),
    Flag.atLeast(0)
  ),
  json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON, for scripts"), Flag.withDefault(false))
}, ({ endpoint, header, json }) =>
  Effect.gen(function*() {
    yield* checkEndpoint(endpoint)
    const headers = yield* parseHeaders(endpoint, header)
    const result = yield* SuiCheck.checkUrl(endpoint, { headers }).pipe(
      Effect.mapError((error) => new SuiCliError({ endpoint, detail: error.message }))
    )
    yield* Console.log(json ? JSON.stringify(result, null, 2) : describeCheck(result))
  })).pipe(Command.withDescription("Check a Sui full node: chain identifier, latest checkpoint, latency"))

/** The `sui` command and its subcommands. */
export const command = Command.make("sui").pipe(
  Command.withDescription("Sui networks: check an endpoint"),
  Command.withSubcommands([check])
)
