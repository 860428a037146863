/**
 * Optional OpenTelemetry export of the service's traces, metrics and logs,
 * configured the standard way: `OTEL_EXPORTER_OTLP_ENDPOINT` (e.g.
 * `http://127.0.0.1:4318`) turns it on, `OTEL_SDK_DISABLED=true` off, and the
 * other `OTEL_*` variables (headers, timeouts, export intervals, per-signal
 * endpoints) apply. Without an endpoint nothing is exported. OTLP over HTTP,
 * JSON encoded; resource `service.name` is `chainjobs`.
 *
 * @since 0.1.0
 */
import { NodeHttpClient } from "@effect/platform-node"
import { ConfigProvider, Effect, Layer } from "effect"
import { Otlp, OtlpSerialization } from "effect/observability"

/** The OpenTelemetry specification's defaults: every signal goes to the OTLP exporter unless `OTEL_*_EXPORTER` says otherwise. */
const specDefaults = ConfigProvider.fromUnknown({
  OTEL_TRACES_EXPORTER: "otlp",
  OTEL_METRICS_EXPORTER: "otlp",
  OTEL_LOGS_EXPORTER: "otlp"
})

/** OTLP export from the `OTEL_*` configuration; buffered telemetry is flushed when the layer closes. */
export const layer: Layer.Layer<never> = Layer.unwrap(Effect.map(ConfigProvider.ConfigProvider, (provider) =>
  Otlp.layerFromConfig({ resource: { serviceName: "chainjobs", serviceVersion: "0.1.0" } }).pipe(
    Layer.provide(Layer.succeed(ConfigProvider.ConfigProvider, ConfigProvider.orElse(provider, specDefaults)))
  ))).pipe(Layer.provide([OtlpSerialization.layerJson, NodeHttpClient.layerUndici]))
