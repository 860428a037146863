/**
 * The chain part of the `chainjobs` command line, over the service's
 * `/api/chains` (`ChainsApi`, its typed client) with the shared `--url` and
 * `--token`:
 *
 * ```
 * chainjobs chains [--json]                 every chain's endpoints: pool, circuit, budget, requests
 * chainjobs chain check <chain> [--json]    a connection check: chain id, head, latency, endpoints
 * ```
 *
 * `chain check` exits 1 naming the cause when the chain is unknown, does not
 * answer, or its node reports another chain id than the one configured.
 *
 * @since 0.1.0
 */
import type { ChainCheck } from "@chainjobs/chain"
import { Console, Effect, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as ApiClientFailure from "./ApiClientFailure.ts"
import * as ChainsApi from "./ChainsApi.ts"
import * as CliRequests from "./CliRequests.ts"

/** A chain command failed: the server refused it or could not be reached, or the check found a problem. */
export class ChainCliError extends Schema.TaggedError<ChainCliError>("@chainjobs/server/ChainCliError")("ChainCliError", {
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}

/** Where the server is and who calls: the command line's shared flags. */
export interface Target {
  readonly url: string
  readonly token: string
  /** The time limit of a request, in seconds (`--timeout`; see `CliRequests`). */
  readonly timeout: number
}

/** One endpoint on one line: URL, circuit, pool, budget, pause, requests and failures. */
export const describeEndpoint = (endpoint: ChainCheck.EndpointState): string =>
  [
    `  ${endpoint.url}`,
    `circuit ${endpoint.circuit}`,
    `pool ${endpoint.inUse}/${endpoint.max} in use, ${endpoint.idle} idle, ${endpoint.waiting} waiting`,
    endpoint.rateLimit === null ? "no rate limit" : `rate ${endpoint.rateLimit.limit}/${endpoint.rateLimit.windowMillis} ms`,
    ...(endpoint.pausedForMillis > 0 ? [`paused ${endpoint.pausedForMillis} ms`] : []),
    `${endpoint.requests} requests, ${endpoint.failures} failed`
  ].join("  ")

/** A check's result for a person: the chain, its id (and whether it matches), head and latency, then each endpoint. */
export const describeCheck = (result: ChainCheck.ChainCheckResult): Array<string> => [
  [
    result.chain,
    `chain id ${result.chainId}${result.chainIdMatches ? "" : ` (configured ${result.expectedChainId}: MISMATCH)`}`,
    `head ${result.head}`,
    `${Math.round(result.latencyMillis)} ms`
  ].join("  "),
  ...result.endpoints.map(describeEndpoint)
]

const jsonFlag = Flag.Boolean("json").pipe(Flag.withDescription("Print JSON, for scripts"), Flag.withDefault(false))

/** Runs `f` with the typed client of the server `target` names; every failure becomes a `ChainCliError`. */
const withClient = <A, E>(
  target: Target,
  f: (client: Effect.Success<ReturnType<typeof ChainsApi.client>>) => Effect.Effect<A, E>
) =>
  ChainsApi.client(target.url, target.token).pipe(
    Effect.flatMap(f),
    Effect.mapError((error: any) =>
      error instanceof ChainCliError ? error : new ChainCliError({ detail: ApiClientFailure.failureDetail(target.url, error, "has no chains (it was started without any)") })
    ),
    Effect.provide(CliRequests.layerHttp({ url: target.url, seconds: target.timeout }))
  )

/** The `chains` and `chain check` commands, reading the shared flags from `target`. */
export const commands = <R>(target: Effect.Effect<Target, never, R>) => {
  const chains = Command.make("chains", { json: jsonFlag }, ({ json }) =>
    Effect.flatMap(target, (t) =>
      withClient(t, (client) =>
        Effect.gen(function*() {
          const list = yield* client.chains.list()
          if (json) return yield* Console.log(JSON.stringify(list, null, 2))
          if (list.length === 0) return yield* Console.log("no chains")
          for (const chain of list) {
            yield* Console.log(`${chain.chain}  chain id ${chain.chainId}`)
            for (const endpoint of chain.endpoints) yield* Console.log(describeEndpoint(endpoint))
          }
        })))).pipe(
      Command.withDescription("The service's chains and each endpoint's pool, circuit, budget and request counts")
    )

  const check = Command.make("check", {
    chain: Argument.String("chain").pipe(Argument.withDescription("The chain's configured name")),
    json: jsonFlag
  }, ({ chain, json }) =>
    Effect.flatMap(target, (t) =>
      withClient(t, (client) =>
        Effect.gen(function*() {
          const result = yield* client.chains.check({ params: { chain } })
          if (json) yield* Console.log(JSON.stringify(result, null, 2))
          else yield* Effect.forEach(describeCheck(result), (line) => Console.log(line), { discard: true })
          if (!result.chainIdMatches) {
            return yield* new ChainCliError({
              detail: `${chain}: the node reports chain id ${result.chainId}, configured ${result.expectedChainId}`
            })
          }
        })))
  ).pipe(Command.withDescription("Check a chain's connection: chain id, head, latency, each endpoint's pool and circuit"))

  const chain = Command.make("chain").pipe(
    Command.withDescription("A chain of the service: check its connection"),
    Command.withSubcommands([check])
  )
  return [chains, chain] as const
}
