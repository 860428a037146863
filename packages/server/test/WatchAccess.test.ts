/**
 * The watch routes' guard (`WatchService.layerAccess`) at its edges, over real HTTP: the prefix itself is
 * guarded as the routes under it are, a token may come as the `access_token` parameter (as an `EventSource`
 * sends it) — the header's winning over it, a refused change answered with a `WatchForbidden` naming the
 * principal and the operation —, and a principal who is no admin may `HEAD` what it may `GET`.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { baseUrl, request } from "./http.ts"
import { alice, ops, watchServer } from "./watchServer.ts"

describe("WatchService's guard", () => {
  layer(watchServer(), { excludeTestServices: true, timeout: "120 seconds" })("on the embedded dev chain", (it) => {
    it.effect("the prefix itself is guarded: without a token it is 401, not handed on", () =>
      Effect.gen(function*() {
        const bare = yield* request("GET", "/api/watch")
        assert.strictEqual(bare.status, 401, bare.text)
        assert.strictEqual(bare.body._tag, "Unauthenticated", bare.text)
        // with a token the guard hands it on, and no route answers there
        assert.strictEqual((yield* request("GET", "/api/watch", { token: alice })).status, 404)
      }))

    it.effect("a token in the access_token parameter is read as a bearer token", () =>
      Effect.gen(function*() {
        const listed = yield* request("GET", `/api/watch/watchers?access_token=${alice}`)
        assert.strictEqual(listed.status, 200, listed.text)
        assert.include(listed.body.map((watcher: any) => watcher.name), "dev-activity")
        const unknown = yield* request("GET", "/api/watch/watchers?access_token=nobody")
        assert.strictEqual(unknown.status, 401, unknown.text)
        // the header wins over the parameter
        const both = yield* request("POST", `/api/watch/watchers/dev-activity/pause?access_token=${ops}`, { token: alice })
        assert.strictEqual(both.status, 403, both.text)
        // the refusal names who asked and what, the path without its query
        assert.deepStrictEqual(both.body, {
          _tag: "WatchForbidden",
          principal: "alice",
          operation: "POST /api/watch/watchers/dev-activity/pause"
        })
      }))

    it.effect("a principal who is no admin may HEAD a watch route it may GET", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        // `fetch` itself: a HEAD reply says JSON and has no body, which `request` would parse
        const head = yield* Effect.promise(() =>
          fetch(`${base}/api/watch/watchers`, { method: "HEAD", headers: { authorization: `Bearer ${alice}` } })
        )
        assert.strictEqual(head.status, 200)
      }))
  })
})
