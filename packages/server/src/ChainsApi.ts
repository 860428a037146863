/**
 * The service's chains over REST, for operators, as a schema-first `HttpApi`
 * under `/api/chains` behind the service's bearer tokens (`Authorization`:
 * any principal reads; with auth off, anyone):
 *
 * - `GET /api/chains`: every configured chain with each endpoint's pool
 *   (connections in use, idle, waiting, max, utilization), circuit, request
 *   budget, 429 pause and request/failure counts (`ChainCheck.status`) —
 *   the pool metrics `/metrics` exposes to Prometheus, as JSON;
 * - `GET /api/chains/:chain/check`: a connection check (`ChainCheck.check`):
 *   the chain id its node reports against the configured one, the head read
 *   past the cache, the round trip's latency, the endpoints as above. An
 *   unknown chain answers 404 `ChainNotFound`; a chain whose endpoints do not
 *   answer, 503 `ChainUnreachable` with the `ChainRequestError`'s reason.
 *
 * The CLI's `chainjobs chains` and `chainjobs chain check <chain>` read
 * these with the typed client (`client`). Served when the service has chains.
 *
 * @since 0.1.0
 */
import { ChainCheck, ChainRequestError, Chains } from "@chainjobs/chain"
import { Effect, Layer, Schema } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiClient, HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { Authorization } from "./RestApi.ts"

/** No chain of that name is configured on the service. */
export class ChainNotFound extends Schema.TaggedError<ChainNotFound>("@chainjobs/server/ChainNotFound")("ChainNotFound", {
  chain: Schema.String,
  /** The chains the service has. */
  configured: Schema.Array(Schema.String)
}, { httpApiStatus: 404 }) {
  override get message(): string {
    return `no chain "${this.chain}" is configured (configured: ${this.configured.join(", ") || "none"})`
  }
}

/** The chain's endpoints did not answer the check; `reason` says how the last request failed. */
export class ChainUnreachable extends Schema.TaggedError<ChainUnreachable>("@chainjobs/server/ChainUnreachable")(
  "ChainUnreachable",
  { chain: Schema.String, reason: ChainRequestError.ChainRequestErrorReason },
  { httpApiStatus: 503 }
) {
  override get message(): string {
    return `chain ${this.chain} did not answer: ${new ChainRequestError.ChainRequestError({ reason: this.reason }).message}`
  }
}

/** The chain endpoints, under `/api`. */
export class ChainsGroup extends HttpApiGroup.make("chains")
  .add(
    HttpApiEndpoint.get("list", "/chains", { success: Schema.Array(ChainCheck.ChainStatus) }).annotate(
      OpenApi.Description,
      "Every configured chain with each endpoint's pool, circuit, request budget, 429 pause and request counts (no request is sent)."
    ).annotate(OpenApi.Summary, "List chains and their endpoints' state"),
    HttpApiEndpoint.get("check", "/chains/:chain/check", {
      params: { chain: Schema.String },
      success: ChainCheck.ChainCheckResult,
      error: [ChainNotFound, ChainUnreachable]
    }).annotate(
      OpenApi.Description,
      "Asks the chain's endpoints (with failover) for the chain id and the head, times the round trip, and reports each endpoint's state."
    ).annotate(OpenApi.Summary, "Check a chain's connection")
  )
  .middleware(Authorization)
  .prefix("/api")
  .annotateMerge(OpenApi.annotations({ title: "Chains", description: "The service's chains: connection checks and endpoint pools." }))
{}

/** The API of this module alone. */
export class ChainsApi extends HttpApi.make("chainjobs-chains").add(ChainsGroup) {}

/** The handlers, over the `Chains` provided. */
export const layerHandlers = HttpApiBuilder.group(ChainsApi, "chains", Effect.fnUntraced(function*(handlers) {
  const chains = yield* Chains.Chains
  return handlers.handleAll({
    list: () =>
      Effect.flatMap(chains.names, (names) =>
        Effect.forEach(names, (name) =>
          chains.client(name).pipe(
            Effect.flatMap(ChainCheck.status),
            // a chain disconnected meanwhile is no longer listed
            Effect.map((status) => [status]),
            Effect.orElseSucceed(() => [])
          )).pipe(Effect.map((found) => found.flat()))),
    check: ({ params }) =>
      chains.client(params.chain).pipe(
        Effect.catchTag("ChainRequestError", () =>
          Effect.flatMap(chains.names, (configured) => Effect.fail(new ChainNotFound({ chain: params.chain, configured })))),
        Effect.flatMap((client) =>
          ChainCheck.check(client).pipe(
            Effect.mapError((error) => new ChainUnreachable({ chain: params.chain, reason: error.reason }))
          ))
      )
  })
}))

/** The API's routes and its OpenAPI document at `/api/chains/openapi.json`; it needs `Authorization` and `Chains`. */
export const layer = HttpApiBuilder.layer(ChainsApi, { openapiPath: "/api/chains/openapi.json" }).pipe(
  Layer.provide(layerHandlers)
)

/** The typed client of a service at `url`, calling with the bearer `token` (none when empty). */
export const client = (url: string, token: string) =>
  HttpApiClient.make(ChainsApi, {
    // `prependUrl` joins it to each path with one slash, whether or not `url` ends in one
    baseUrl: url,
    transformClient: token === "" ? undefined : HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
  })
