import { assert, describe, layer } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { request, testServer } from "./http.ts"

// A principal no other test file names: the metrics registry is the process's, and the mutation runs' files share one
// worker, so another file's refusals of a common name (alice) would be counted in its line.
const settings = {
  authTokens: { quinn: Redacted.make("quinn-token"), ops: Redacted.make("ops-token") },
  admins: ["ops"],
  metricsToken: Option.some(Redacted.make("scrape-token")),
  submitLimit: 1,
  submitBurst: Option.some(1)
}

describe("Access", () => {
  layer(testServer(settings), { excludeTestServices: true })("with auth on", (it) => {
    it.effect("/metrics answers the metrics token and admins only, and names no principal to anyone else", () =>
      Effect.gen(function*() {
        // a refusal, so that a principal's name is in the metrics
        yield* request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 1, toBlock: 1, delayMillis: 0 }, token: "quinn-token" })
        yield* request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 1, toBlock: 1, delayMillis: 0 }, token: "quinn-token" })
        const anonymous = yield* request("GET", "/metrics")
        assert.strictEqual(anonymous.status, 401)
        assert.deepStrictEqual(anonymous.body, { _tag: "Unauthenticated", credential: "missing-token" })
        assert.notInclude(anonymous.text, "quinn")
        const forged = yield* request("GET", "/metrics", { token: "forged" })
        assert.strictEqual(forged.status, 401)
        const principal = yield* request("GET", "/metrics", { token: "quinn-token" })
        assert.strictEqual(principal.status, 403)
        assert.deepStrictEqual(principal.body, { _tag: "Forbidden", principal: "quinn", operation: "metrics" })
        for (const token of ["ops-token", "scrape-token"]) {
          const allowed = yield* request("GET", "/metrics", { token })
          assert.strictEqual(allowed.status, 200)
          assert.include(allowed.text, `chainjobs_submissions_rate_limited_total{principal="quinn"} 1`)
        }
      }))
  })

  layer(testServer(), { excludeTestServices: true })("with auth off", (it) => {
    it.effect("/metrics stays open", () =>
      Effect.gen(function*() {
        const open = yield* request("GET", "/metrics")
        assert.strictEqual(open.status, 200)
        assert.include(open.text, "chainjobs_accepting")
      }))
  })
})
