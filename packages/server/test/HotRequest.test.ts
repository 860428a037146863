/**
 * What the lean paths share, unit by unit: a query's `access_token` (only a
 * query that holds nothing else has one), the principal a request names when
 * the principals answer at once (a token table) or only as an effect to run,
 * and a request's time in `/metrics` (in seconds, from its start).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Metric, Option } from "effect"
import { randomUUID } from "node:crypto"
import type * as Http from "node:http"
import { Principal } from "@chainjobs/tasks"
import * as HotRequest from "../src/HotRequest.ts"
import * as Metrics from "../src/Metrics.ts"

/** A request with only `headers` (all `principalNow` reads of it). */
const requestWith = (headers: Record<string, string>) => ({ headers }) as unknown as Http.IncomingMessage

const table = Principal.make({ "alice-token": { principal: "alice" }, "bob-token": { principal: "bob" } })
const alice: Principal.Principal = { id: "alice", admin: false }
const bob: Principal.Principal = { id: "bob", admin: false }

describe("HotRequest.queryToken", () => {
  it("is empty for no query and for a query of no parameters, the token of a query of only access_token, and undefined for any other", () => {
    assert.strictEqual(HotRequest.queryToken(""), "")
    assert.strictEqual(HotRequest.queryToken("&"), "")
    assert.strictEqual(HotRequest.queryToken("access_token=bob-token"), "bob-token")
    assert.strictEqual(HotRequest.queryToken("wait=false"), undefined)
    assert.strictEqual(HotRequest.queryToken("access_token=bob-token&wait=false"), undefined)
  })

  it("is undefined for a query naming access_token twice, whatever the values: the stack refuses it as no token", () => {
    assert.strictEqual(HotRequest.queryToken("access_token=forged&access_token=bob-token"), undefined)
    assert.strictEqual(HotRequest.queryToken("access_token=bob-token&access_token=bob-token"), undefined)
    assert.strictEqual(HotRequest.queryToken("access_token=&access_token=bob-token"), undefined)
    assert.strictEqual(HotRequest.queryToken("access_token=bob-token&&"), "bob-token")
  })
})

describe("HotRequest.principalNow", () => {
  it("answers at once from a token table: the bearer header's principal first, then the query token's, else none", () => {
    assert.deepStrictEqual(HotRequest.principalNow(table, requestWith({ authorization: "Bearer alice-token" }), "bob-token"), Option.some(alice))
    assert.deepStrictEqual(HotRequest.principalNow(table, requestWith({}), "bob-token"), Option.some(bob))
    assert.deepStrictEqual(HotRequest.principalNow(table, requestWith({ authorization: "Bearer forged" }), "bob-token"), Option.some(bob))
    // Refused by header and by query: none, as the stack refuses it.
    assert.deepStrictEqual(HotRequest.principalNow(table, requestWith({}), "forged"), Option.none())
    assert.deepStrictEqual(HotRequest.principalNow(table, requestWith({ authorization: "Bearer forged" }), ""), Option.none())
  })

  it("is undefined when the principals answer with an effect still to run, or with a defect: principalOf runs it", () => {
    const later = Principal.Principals.of({ authenticate: () => Effect.suspend(() => Effect.succeed(alice)) })
    assert.strictEqual(HotRequest.principalNow(later, requestWith({ authorization: "Bearer alice-token" }), ""), undefined)
    const defect = Principal.Principals.of({ authenticate: () => Exit.die("no table") })
    assert.strictEqual(HotRequest.principalNow(defect, requestWith({ authorization: "Bearer alice-token" }), ""), undefined)
  })
})

describe("HotRequest.timed", () => {
  it.effect("records the request's seconds since its start, under its method and status", () => {
    // A registry of the test's own, and a method no request used before in this process: a series of its own.
    const registry = new Map()
    const method = `TEST-${randomUUID()}`
    return Effect.gen(function*() {
      const before = performance.now()
      const started = before - 250
      yield* HotRequest.timed(method, started, 299)
      const bound = (performance.now() - started) / 1000
      const series = (yield* Metric.snapshot).filter((metric) =>
        metric.id === "chainjobs_http_request_duration_seconds" && metric.attributes?.method === method
      )
      assert.strictEqual(series.length, 1)
      assert.deepStrictEqual(series[0].attributes, { surface: "api", method, status: "299" })
      const state = series[0].state as Metric.HistogramState
      assert.strictEqual(state.count, 1)
      // At least the 250 ms it started before, at most the time since then.
      assert.isAtLeast(state.sum, 0.25)
      assert.isAtMost(state.sum, bound)
    }).pipe(Effect.provideService(Metric.MetricRegistry, registry))
  })

  it.effect("updates the series the stack's timing updates: one series for the same method and status", () => {
    // The lean path's metric is one of its own (`Metrics.requestDurationOf`); `/metrics` must still show one series.
    const registry = new Map()
    const method = `TEST-${randomUUID()}`
    return Effect.gen(function*() {
      yield* HotRequest.timed(method, performance.now(), 200)
      yield* Metric.update(Metric.withAttributes(Metrics.requestDuration, { surface: "api", method, status: "200" }), 0.5)
      yield* HotRequest.timed("GET", performance.now(), 204)
      yield* HotRequest.timed(method, performance.now(), 200)
      const series = (yield* Metric.snapshot).filter((metric) =>
        metric.id === "chainjobs_http_request_duration_seconds" && metric.attributes?.method === method
      )
      assert.strictEqual(series.length, 1)
      assert.deepStrictEqual(series[0].attributes, { surface: "api", method, status: "200" })
      assert.strictEqual((series[0].state as Metric.HistogramState).count, 3)
    }).pipe(Effect.provideService(Metric.MetricRegistry, registry))
  })
})
