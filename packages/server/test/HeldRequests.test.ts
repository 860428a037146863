import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import { createServer, request as httpRequest, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import * as HeldRequests from "../src/HeldRequests.ts"

/** A server with held requests, listening on a free port of 127.0.0.1, and no handler yet. */
const start = Effect.promise(() =>
  new Promise<{ readonly server: Server; readonly held: HeldRequests.Held }>((resolve) => {
    const server = createServer()
    const held = HeldRequests.hold(server)
    server.listen(0, "127.0.0.1", () => resolve({ server, held }))
  })
)

/**
 * Closes `server`. Its close is a few milliseconds' work once the held requests are answered: the wait is
 * bounded, so that a close that never calls back fails the test instead of hanging it.
 */
const stop = (server: Server) =>
  Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve()))).pipe(
    Effect.timeoutOrElse({ duration: "15 seconds", orElse: () => Effect.die(new Error("the server's close never called back")) })
  )

/**
 * Waits for `replies`, the answers of requests the server holds or serves: a few milliseconds' work once the handler
 * is attached. The wait is bounded (15 s), so that requests never handed over or never answered fail the test saying
 * which, instead of hanging it to vitest's bound.
 */
const answers = <A>(replies: Promise<A>, what: string) =>
  Effect.promise(() => replies).pipe(
    Effect.timeoutOrElse({ duration: "15 seconds", orElse: () => Effect.die(new Error(`never answered: ${what}`)) })
  )

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/`

/**
 * Waits until `count` requests are held: it looks every 5 ms, at most 4,000 times (20 s and more), then fails
 * saying how many were, instead of waiting for a count that never comes.
 */
const holding = (held: HeldRequests.Held, count: number) =>
  Effect.sync(held.size).pipe(
    Effect.repeat({ until: (size) => size >= count, times: 4000, schedule: Schedule.spaced("5 millis") }),
    Effect.flatMap(() => Effect.sync(held.size)),
    Effect.tap((size) => Effect.sync(() => assert.isAtLeast(size, count, "requests held")))
  )

describe("HeldRequests", () => {
  it.live("requests that arrive before the handler is attached are answered by it once it is", () =>
    Effect.gen(function*() {
      const { held, server } = yield* Effect.acquireRelease(start, ({ server }) => stop(server))
      const replies = Array.from({ length: 3 }, (_, i) => fetch(`${urlOf(server)}${i}`).then(async (r) => `${r.status} ${await r.text()}`))
      yield* holding(held, 3)
      server.on("request", (request, response) => response.end(`served ${request.url}`))
      assert.deepStrictEqual(yield* answers(Promise.all(replies), "the three held requests"), [
        "200 served /0",
        "200 served /1",
        "200 served /2"
      ])
      // and later requests go straight to the handler
      assert.strictEqual(yield* answers(fetch(`${urlOf(server)}later`).then((r) => r.text()), "a later request"), "served /later")
    }))

  it.live("past maxHeld held requests, one more is answered 503 at once; the held ones are still served by the handler", () =>
    Effect.gen(function*() {
      const { held, server } = yield* Effect.acquireRelease(start, ({ server }) => stop(server))
      const port = (server.address() as AddressInfo).port
      /** One request on a connection of its own: its status, the headers named, and its body. */
      const get = (path: string, headers: ReadonlyArray<string> = []) =>
        new Promise<string>((resolve, reject) =>
          httpRequest({ host: "127.0.0.1", port, path, agent: false }, (response) => {
            let body = ""
            const named = headers.map((name) => `${name}: ${response.headers[name]} `).join("")
            response.setEncoding("utf8").on("data", (chunk) => (body += chunk)).on("end", () => resolve(`${response.statusCode} ${named}${body}`))
          }).on("error", reject).end()
        )
      const early = Array.from({ length: HeldRequests.maxHeld }, (_, i) => get(`/${i}`))
      yield* holding(held, HeldRequests.maxHeld)
      assert.strictEqual(
        yield* answers(get("/one-too-many", ["content-type", "retry-after", "connection"]), "the request past maxHeld"),
        `503 content-type: application/json retry-after: 1 connection: close {"_tag":"ServiceUnavailable","reason":"starting"}`
      )
      assert.strictEqual(held.size(), HeldRequests.maxHeld)
      server.on("request", (request, response) => response.end(`served ${request.url}`))
      assert.deepStrictEqual(yield* answers(Promise.all(early), "the held requests"), Array.from({ length: HeldRequests.maxHeld }, (_, i) => `200 served /${i}`))
      assert.strictEqual(held.size(), 0)
      // Once the handler is attached, nothing more is held.
      assert.strictEqual(yield* answers(get("/later"), "a later request"), "200 served /later")
      assert.strictEqual(held.size(), 0)
    }), 60_000)

  it.live("a request listener removed before the hand-over leaves the held requests held for the next one", () =>
    Effect.gen(function*() {
      const { held, server } = yield* Effect.acquireRelease(start, ({ server }) => stop(server))
      const reply = fetch(`${urlOf(server)}kept`).then((r) => r.text())
      yield* holding(held, 1)
      const passing = () => {}
      server.on("request", passing)
      server.off("request", passing)
      // The hand-over runs on the next turn: nobody to hand to, so the request stays held.
      yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
      yield* Effect.sleep("10 millis")
      assert.strictEqual(held.size(), 1)
      server.on("request", (request, response) => response.end(`served ${request.url}`))
      assert.strictEqual(yield* answers(reply, "the held request"), "served /kept")
    }))

  it.live("requests still held when the server closes are answered 503 with Retry-After", () =>
    Effect.gen(function*() {
      const { held, server } = yield* start
      const reply = fetch(urlOf(server)).then(async (r) => ({ status: r.status, retryAfter: r.headers.get("retry-after"), body: await r.json() }))
      yield* holding(held, 1)
      // The close waits for the held request's connection: it calls back only once that request is answered.
      yield* stop(server)
      assert.deepStrictEqual(yield* answers(reply, "the held request, at the close"), {
        status: 503,
        retryAfter: "1",
        body: { _tag: "ServiceUnavailable", reason: "starting" }
      })
    }))
})
