/**
 * The access rules at their edges, beside `Access.test.ts`: an empty bearer
 * token or `access_token` is a missing token, not an unknown one; `/metrics`
 * stays guarded whatever query it is asked with; the metrics token reads the
 * metrics and nothing else; only the configured admins are admins.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Option, Redacted } from "effect"
import { baseUrl, request, testServer } from "./http.ts"

const settings = {
  authTokens: { alice: Redacted.make("alice-token"), ops: Redacted.make("ops-token") },
  admins: ["ops"],
  metricsToken: Option.some(Redacted.make("scrape-token"))
}

/** A GET with the raw `Authorization` header given. */
const getWithAuthorization = (path: string, authorization: string) =>
  Effect.flatMap(baseUrl, (base) =>
    Effect.promise(async () => {
      const response = await fetch(base + path, { headers: { authorization } })
      return { status: response.status, body: await response.json() as any }
    }))

describe("Access edges", () => {
  layer(testServer(settings), { excludeTestServices: true })("with auth on", (it) => {
    it.effect("an empty bearer token or access_token is a missing token; a wrong one is unknown", () =>
      Effect.gen(function*() {
        const emptyBearer = yield* getWithAuthorization("/api/tasks", "Bearer ")
        assert.deepStrictEqual([emptyBearer.status, emptyBearer.body], [401, { _tag: "Unauthenticated", credential: "missing-token" }])
        const emptyQuery = yield* request("GET", "/api/tasks?access_token=")
        assert.deepStrictEqual([emptyQuery.status, emptyQuery.body], [401, { _tag: "Unauthenticated", credential: "missing-token" }])
        const wrong = yield* request("GET", "/api/tasks?access_token=nobody")
        assert.deepStrictEqual([wrong.status, wrong.body], [401, { _tag: "Unauthenticated", credential: "unknown-token" }])
      }))

    it.effect("/metrics asked with a query is guarded as without one", () =>
      Effect.gen(function*() {
        for (const path of ["/metrics?format=prometheus", "/metrics?"]) {
          const anonymous = yield* request("GET", path)
          assert.deepStrictEqual([anonymous.status, anonymous.body], [401, { _tag: "Unauthenticated", credential: "missing-token" }], path)
          const principal = yield* request("GET", path, { token: "alice-token" })
          assert.strictEqual(principal.status, 403, path)
          assert.strictEqual((yield* request("GET", path, { token: "scrape-token" })).status, 200, path)
        }
      }))

    it.effect("the metrics token is no principal: the API refuses it", () =>
      Effect.gen(function*() {
        const refused = yield* request("GET", "/api/tasks", { token: "scrape-token" })
        assert.deepStrictEqual([refused.status, refused.body], [401, { _tag: "Unauthenticated", credential: "unknown-token" }])
      }))

    it.effect("a configured admin purges; another principal may not", () =>
      Effect.gen(function*() {
        const byAdmin = yield* request("POST", "/api/purge", { body: {}, token: "ops-token" })
        assert.strictEqual(byAdmin.status, 200)
        const byAlice = yield* request("POST", "/api/purge", { body: {}, token: "alice-token" })
        assert.deepStrictEqual([byAlice.status, byAlice.body], [403, { _tag: "Forbidden", principal: "alice", operation: "purge" }])
      }))
  })

  layer(testServer({ ...settings, metricsToken: Option.none() }), { excludeTestServices: true })("without a metrics token", (it) => {
    it.effect("/metrics is read with an admin's token only, never without a token", () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* request("GET", "/metrics", { token: "ops-token" })).status, 200)
        assert.strictEqual((yield* request("GET", "/metrics", { token: "alice-token" })).status, 403)
        assert.strictEqual((yield* request("GET", "/metrics", { token: "scrape-token" })).status, 401)
        // No metrics token configured and none sent: nothing matches, the request is refused.
        const anonymous = yield* request("GET", "/metrics")
        assert.deepStrictEqual([anonymous.status, anonymous.body], [401, { _tag: "Unauthenticated", credential: "missing-token" }])
      }))

    it.effect("/metrics guards its GET only: another method is answered as a path without a route, not refused", () =>
      Effect.gen(function*() {
        const posted = yield* request("POST", "/metrics", { body: {} })
        assert.strictEqual(posted.status, 404)
      }))
  })
})
