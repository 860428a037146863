/**
 * The RPCs that take no payload (`WatchAll`, `Stats`), over a real server's
 * WebSocket and HTTP: a request carrying none, `null` or `{}` is served the
 * same (a hand-written client leaves the field out, or sends an empty
 * object; effect's client sends `null`); any other payload is refused with
 * the typed `MalformedRequest` naming the RPC, and serves nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { overHttp, overWebsocket, requestLine, serve } from "./localServer.ts"
import { exitOf, flows, open } from "./rawClient.ts"

/** A request of `tag` as request `id`, with `payload` as its field, or without the field when `payload` is absent. */
const request = (tag: string, id: string, payload: { readonly value?: unknown }) =>
  ({ _tag: "Request", id, tag, ...("value" in payload ? { payload: payload.value } : {}), headers: [["authorization", "Bearer alice-token"]] })

/** No payload, as clients send it: the field left out, `null`, an empty object. */
const none: ReadonlyArray<{ readonly value?: unknown }> = [{}, { value: null }, { value: {} }]

/** Payloads an RPC without one refuses. */
const some: ReadonlyArray<unknown> = [{ all: true }, [], 0, "", false, { "": null }]

describe("RPCs without a payload", () => {
  it.live("are served over WebSocket when the request carries none, null or {}: WatchAll's stream carries changes", () =>
    Effect.scoped(Effect.gen(function*() {
      const port = yield* serve({})
      const alice = yield* open(port, "alice-token")
      for (const [i, payload] of none.entries()) {
        alice.send(request("WatchAll", `w${i}`, payload))
        assert.isTrue(yield* flows(alice, `w${i}`, `s${i}`), `WatchAll with ${JSON.stringify(payload)} carries a change`)
        alice.send(request("Stats", `x${i}`, payload))
        const stats = yield* Effect.promise(() => alice.answer(exitOf(`x${i}`)))
        assert.strictEqual(stats.exit._tag, "Success", JSON.stringify(stats))
      }
      assert.isFalse(alice.answers.some((line) => line._tag === "Closed"), "the socket stays open")
      alice.vanish()
    })), 30_000)

  it.live("refuse any other payload with MalformedRequest, over WebSocket and HTTP, and serve nothing of it", () =>
    Effect.scoped(Effect.gen(function*() {
      const port = yield* serve({})
      for (const payload of some) {
        for (const tag of ["WatchAll", "Stats"]) {
          const detail = `${tag} takes no payload (none, null or {})`
          const line = `${JSON.stringify(request(tag, "1", { value: payload }))}\n`
          const socket = yield* overWebsocket(port, [line], 1)
          // refused: the call's typed failure, or the socket closed with it as the reason (1008)
          const failed = socket.answers.find(exitOf("1"))
          if (failed !== undefined) {
            const error = failed.exit.cause.find((reason: any) => reason._tag === "Fail")?.error
            assert.deepInclude(error, { _tag: "MalformedRequest", problem: "payload", rpc: tag, detail }, JSON.stringify(failed))
          } else {
            assert.strictEqual(socket.code, 1008, `${tag} ${JSON.stringify(payload)}: ${JSON.stringify(socket)}`)
            assert.include(socket.reason, detail)
          }
          assert.isFalse(socket.answers.some((answer) => answer._tag === "Chunk" || answer.exit?._tag === "Success"))
          const http = yield* overHttp(port, requestLine(tag, payload))
          assert.strictEqual(http.status, 400, JSON.stringify(http))
          assert.include(JSON.stringify(http.body), detail)
        }
      }
    })), 30_000)

  it.live("Stats over HTTP answers a request carrying none, null or {}", () =>
    Effect.scoped(Effect.gen(function*() {
      const port = yield* serve({})
      for (const payload of none) {
        const { body, status } = yield* overHttp(port, `${JSON.stringify(request("Stats", "1", payload))}\n`)
        assert.strictEqual(status, 200)
        assert.strictEqual(body[0]?.exit?._tag, "Success", JSON.stringify(body))
      }
    })), 30_000)
})
