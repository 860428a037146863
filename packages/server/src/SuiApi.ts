/**
 * The service's Sui networks over REST, for operators, as a schema-first
 * `HttpApi` under `/api/sui` behind the service's bearer tokens (any
 * principal reads; with auth off, anyone):
 *
 * - `GET /api/sui/networks`: every configured Sui network with its endpoints;
 * - `GET /api/sui/networks/:network/check`: a connection check
 *   (`SuiCheck.checkNetwork`): the chain identifier, the latest checkpoint and
 *   the latency, on connections of the check's own (the watchers' request
 *   budget is not spent on it). An unknown network answers 404
 *   `SuiNetworkNotFound`; a network whose endpoints do not answer, 503
 *   `SuiNetworkUnreachable` with the `ChainRequestError`'s reason.
 *
 * `chainjobs sui check --network <name>` reads the check with the typed
 * client (`client`). Served when the service has Sui networks.
 *
 * @since 0.1.0
 */
import { ChainRequestError, EndpointLabel } from "@chainjobs/chain"
import { SuiCheck } from "@chainjobs/sui"
import { Effect, Layer, Schema } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { HttpApi, HttpApiBuilder, HttpApiClient, HttpApiEndpoint, HttpApiGroup, OpenApi } from "effect/http-api"
import { Authorization } from "./RestApi.ts"
import { ServerConfig } from "./ServerConfig.ts"
import * as SuiService from "./SuiService.ts"

/** No Sui network of that name is configured on the service. */
export class SuiNetworkNotFound extends Schema.TaggedError<SuiNetworkNotFound>("@chainjobs/server/SuiNetworkNotFound")("SuiNetworkNotFound", {
  network: Schema.String,
  /** The Sui networks the service has. */
  configured: Schema.Array(Schema.String)
}, { httpApiStatus: 404 }) {
  override get message(): string {
    return `no Sui network "${this.network}" is configured (configured: ${this.configured.join(", ") || "none"})`
  }
}

/** The network's endpoints did not answer the check; `reason` says how the last request failed. */
export class SuiNetworkUnreachable extends Schema.TaggedError<SuiNetworkUnreachable>("@chainjobs/server/SuiNetworkUnreachable")(
  "SuiNetworkUnreachable",
  { network: Schema.String, reason: ChainRequestError.ChainRequestErrorReason },
  { httpApiStatus: 503 }
) {
  override get message(): string {
    return `Sui network ${this.network} did not answer: ${new ChainRequestError.ChainRequestError({ reason: this.reason }).message}`
  }
}

/** A configured Sui network: its name and endpoint URLs in order of preference. */
export const SuiNetworkInfo = Schema.Struct({
  network: Schema.String,
  endpoints: Schema.Array(Schema.String)
})
/** @see SuiNetworkInfo */
export type SuiNetworkInfo = typeof SuiNetworkInfo.Type

/** The Sui endpoints, under `/api`. */
export class SuiGroup extends HttpApiGroup.make("sui")
  .add(
    HttpApiEndpoint.get("networks", "/sui/networks", { success: Schema.Array(SuiNetworkInfo) }).annotate(
      OpenApi.Description,
      "Every configured Sui network with its endpoints (no request is sent)."
    ).annotate(OpenApi.Summary, "List Sui networks"),
    HttpApiEndpoint.get("check", "/sui/networks/:network/check", {
      params: { network: Schema.String },
      success: SuiCheck.SuiCheckResult,
      error: [SuiNetworkNotFound, SuiNetworkUnreachable]
    }).annotate(
      OpenApi.Description,
      "Asks the network's endpoints (with failover, two quick retries) for the chain identifier and the latest checkpoint, and times the round trip."
    ).annotate(OpenApi.Summary, "Check a Sui network's connection")
  )
  .middleware(Authorization)
  .prefix("/api")
  .annotateMerge(OpenApi.annotations({ title: "Sui", description: "The service's Sui networks: connection checks." }))
{}

/** The API of this module alone. */
export class SuiApi extends HttpApi.make("chainjobs-sui").add(SuiGroup) {}

/** The handlers, over the service's settings. */
export const layerHandlers = HttpApiBuilder.group(SuiApi, "sui", Effect.fnUntraced(function*(handlers) {
  const settings = yield* ServerConfig
  const configs = SuiService.suiConfigs(settings)
  return handlers.handleAll({
    networks: () =>
      Effect.succeed(configs.map((config) => ({ network: config.name, endpoints: EndpointLabel.labels(config.endpoints.map((endpoint) => endpoint.url)) }))),
    check: ({ params }) => {
      const config = configs.find((candidate) => candidate.name === params.network)
      return config === undefined
        ? Effect.fail(new SuiNetworkNotFound({ network: params.network, configured: configs.map((candidate) => candidate.name) }))
        : SuiCheck.checkNetwork(config).pipe(
          Effect.mapError((error) => new SuiNetworkUnreachable({ network: params.network, reason: error.reason }))
        )
    }
  })
}))

/** The API's routes and its OpenAPI document at `/api/sui/openapi.json`; it needs `Authorization` and `ServerConfig`. */
export const layer = HttpApiBuilder.layer(SuiApi, { openapiPath: "/api/sui/openapi.json" }).pipe(
  Layer.provide(layerHandlers)
)

/** The typed client of a service at `url`, calling with the bearer `token` (none when empty). */
export const client = (url: string, token: string) =>
  HttpApiClient.make(SuiApi, {
    // `prependUrl` joins it to each path with one slash, whether or not `url` ends in one
    baseUrl: url,
    transformClient: token === "" ? undefined : HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
  })
