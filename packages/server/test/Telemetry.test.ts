import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Metric } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"
import * as Telemetry from "../src/Telemetry.ts"

/** A stand-in OTLP collector on 127.0.0.1 that keeps every request: path and body. */
const collector = Effect.acquireRelease(
  Effect.callback<{ readonly url: string; readonly received: Array<{ path: string; body: string }>; close: () => void }>((resume) => {
    const received: Array<{ path: string; body: string }> = []
    const server = createServer((request, response) => {
      let body = ""
      request.on("data", (chunk) => body += String(chunk))
      request.on("end", () => {
        received.push({ path: request.url ?? "", body })
        response.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, received, close: () => server.close() }))
    })
  }),
  ({ close }) => Effect.sync(close)
)

const withEnv = (env: Record<string, string>) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.provideService(effect, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))

describe("Telemetry", () => {
  it.live("with an OTLP endpoint configured, spans are exported as service chainjobs", () =>
    Effect.gen(function*() {
      const { url, received } = yield* collector
      yield* Effect.void.pipe(
        Effect.withSpan("chainjobs.test-span"),
        Effect.provide(Telemetry.layer),
        withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: url })
      )
      const traces = received.filter((request) => request.path === "/v1/traces")
      assert.strictEqual(traces.length, 1)
      assert.include(traces[0].body, "chainjobs.test-span")
      assert.include(traces[0].body, '"stringValue":"chainjobs"')
    }))

  it.live("logs and metrics are exported too (every signal goes to OTLP by default), and a signal set to none is not", () =>
    Effect.gen(function*() {
      const { url, received } = yield* collector
      const counter = Metric.counter("chainjobs_telemetry_test_total")
      const program = Effect.andThen(Effect.logInfo("telemetry-test-line"), Metric.update(counter, 1))
      yield* program.pipe(Effect.provide(Telemetry.layer), withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: url }))
      const paths = (wanted: string) => received.filter((request) => request.path === wanted)
      assert.isTrue(paths("/v1/logs").some((request) => request.body.includes("telemetry-test-line")))
      assert.isTrue(paths("/v1/metrics").some((request) => request.body.includes("chainjobs_telemetry_test_total")))
      received.length = 0
      yield* program.pipe(Effect.provide(Telemetry.layer), withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_LOGS_EXPORTER: "none" }))
      assert.deepStrictEqual(paths("/v1/logs"), [])
      assert.isAbove(paths("/v1/metrics").length, 0)
    }))

  // Nothing could reach a collector whose address no setting names, so this checks only that the layer is harmless.
  it.live("without an endpoint the layer builds and the program runs", () =>
    Effect.void.pipe(Effect.withSpan("quiet"), Effect.provide(Telemetry.layer), withEnv({})))

  it.live("the exported resource names the service and its version", () =>
    Effect.gen(function*() {
      const { url, received } = yield* collector
      yield* Effect.void.pipe(Effect.withSpan("chainjobs.version-span"), Effect.provide(Telemetry.layer), withEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: url }))
      const traces = received.filter((request) => request.path === "/v1/traces")
      assert.strictEqual(traces.length, 1)
      const attributes: Array<{ key: string; value: { stringValue?: string } }> = JSON.parse(traces[0].body).resourceSpans[0].resource.attributes
      const named = (key: string) => attributes.find((attribute) => attribute.key === key)?.value.stringValue
      assert.deepStrictEqual([named("service.name"), named("service.version")], ["chainjobs", "0.1.0"])
    }))
})
