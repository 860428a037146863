/**
 * `/api/events` under the service's limit of open all-tasks streams per
 * principal (`maxEventStreams`), against the service on 127.0.0.1: the stream
 * past it is refused with 429 `TooManyEventStreams` before any event, the
 * open ones flow on, another principal is untouched, and a stream whose client
 * goes frees its slot at once; `/metrics` counts the refusal
 * (`chainjobs_streams_refused_total`). Also the settings' hostile values: refused at
 * start with a `ServerConfigError` naming the variable.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Option, Redacted, Schema } from "effect"
import * as ServerConfig from "../src/ServerConfig.ts"
import { baseUrl, type EventFeed, openEvents, request, testServer } from "./http.ts"

// Principals no other test file names: the metrics registry is the process's.
const settings = {
  authTokens: { vera: Redacted.make("vera-token"), walt: Redacted.make("walt-token") },
  metricsToken: Option.some(Redacted.make("scrape-token")),
  maxEventStreams: 2
}

/** The refusals of all-tasks streams per principal `/metrics` shows (none before the first). */
const refusedOnMetrics = Effect.map(request("GET", "/metrics", { token: "scrape-token" }), (reply) => {
  const line = /^chainjobs_streams_refused_total\{limit="event-streams-per-principal"\} (\d+)$/m.exec(reply.text)
  return line === null ? 0 : Number(line[1])
})

/** `/api/events` opened as `token`'s principal: an event stream, or its refusal's status and body. */
const openAll = (token: string) =>
  Effect.flatMap(baseUrl, (base) =>
    Effect.promise(() => openEvents(`${base}/api/events`, { headers: { authorization: `Bearer ${token}` } })))

/** Submits a demo task as `token`'s principal; its id. */
const submit = (token: string) =>
  Effect.map(
    request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 1, toBlock: 1, delayMillis: 0 }, token }),
    (reply) => reply.body.taskId as string
  )

/** Whether a change of the task `id` reaches `stream`. */
const hears = (stream: EventFeed, id: string) => Effect.promise(() => stream.until((event) => event?.id === id).then(() => true))

layer(testServer(settings), { excludeTestServices: true })("/api/events with maxEventStreams 2", (it) => {
  it.effect("the third stream of a principal is refused with 429 TooManyEventStreams, the open ones and another principal's flow on, and a vanished client's slot comes back", () =>
    Effect.gen(function*() {
      const first = yield* openAll("vera-token")
      const second = yield* openAll("vera-token")
      assert.deepStrictEqual([first.status, second.status], [200, 200])
      assert.strictEqual(yield* refusedOnMetrics, 0)
      const refused = yield* openAll("vera-token")
      assert.strictEqual(refused.status, 429)
      assert.deepStrictEqual(refused.body, { _tag: "TooManyEventStreams", principal: "vera", limit: 2, open: 2 })
      // The operator sees the cap bite.
      assert.strictEqual(yield* refusedOnMetrics, 1)
      // Walt has streams of his own.
      const walt = yield* openAll("walt-token")
      assert.strictEqual(walt.status, 200)
      // The open streams flow on.
      const task = yield* submit("vera-token")
      assert.isTrue(yield* hears(first, task))
      assert.isTrue(yield* hears(second, task))
      const waltTask = yield* submit("walt-token")
      assert.isTrue(yield* hears(walt, waltTask))
      // A client that goes frees its slot: a new stream is admitted (at once, or as soon as the server has seen it go).
      first.close()
      let again: EventFeed | undefined
      for (let attempt = 0; attempt < 100 && again === undefined; attempt++) {
        const opened = yield* openAll("vera-token")
        if (opened.status === 200) again = opened
        else yield* Effect.sleep("20 millis")
      }
      assert.isDefined(again, "a slot came back after the client vanished")
      const later = yield* submit("vera-token")
      assert.isTrue(yield* hears(again!, later))
      for (const stream of [second, walt, again!]) stream.close()
    }), 30_000)
})

const loadFrom = (env: Record<string, string>) =>
  Effect.exit(Effect.provideService(ServerConfig.load, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))

describe("the stream limits' settings", () => {
  const variables = ["CHAINJOBS_MAX_EVENT_STREAMS", "CHAINJOBS_MAX_STREAMS_PER_CONNECTION"] as const

  it.effect.prop(
    "a value that is no whole number of at least 1 is refused at start with a ServerConfigError naming the variable",
    {
      which: Schema.Literals(variables),
      value: Schema.Union([
        Schema.Int.check(Schema.isLessThanOrEqualTo(0)).pipe(Schema.encodeTo(Schema.String)),
        Schema.Finite.check(Schema.isGreaterThan(0)).check(Schema.makeFilter((n: number) => !Number.isInteger(n))).pipe(
          Schema.encodeTo(Schema.String)
        ),
        // (an empty value is no value: the default applies, as for every setting)
        Schema.Literals(["many", "1e400", "NaN", "Infinity", "-Infinity", "10 streams", "0x"])
      ])
    },
    ({ which, value }) =>
      Effect.gen(function*() {
        const text = String(value)
        const exit = yield* loadFrom({ [which]: text })
        assert.isTrue(Exit.isFailure(exit), `${which}=${text} was accepted`)
        if (Exit.isFailure(exit)) {
          const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
          assert.strictEqual(error?._tag === "Fail" && error.error._tag, "ServerConfigError")
          assert.include(error?._tag === "Fail" ? error.error.message : "", which)
        }
      }),
    { timeout: 60_000, arbitrary: { runs: 50 } }
  )

  it.effect.prop(
    "a whole number of at least 1 is taken as it is",
    { which: Schema.Literals(variables), value: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000_000 })) },
    ({ which, value }) =>
      Effect.gen(function*() {
        const exit = yield* loadFrom({ [which]: String(value) })
        assert.isTrue(Exit.isSuccess(exit))
        if (Exit.isSuccess(exit)) {
          const settings = exit.value
          assert.strictEqual(which === "CHAINJOBS_MAX_EVENT_STREAMS" ? settings.maxEventStreams : settings.maxStreamsPerConnection, value)
        }
      }),
    { timeout: 60_000, arbitrary: { runs: 50 } }
  )

  it.effect("unset, both are 1000", () =>
    Effect.gen(function*() {
      const exit = yield* loadFrom({})
      assert.isTrue(Exit.isSuccess(exit))
      if (Exit.isSuccess(exit)) assert.deepStrictEqual([exit.value.maxEventStreams, exit.value.maxStreamsPerConnection], [1000, 1000])
    }))
})
