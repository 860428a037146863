/**
 * The service accepts many new connections per turn of its event loop
 * (`Acceptors`), where Node's single listening socket takes one: with the
 * loop busy in 10-ms turns, 64 connections made at once (by a child process,
 * over real sockets) are all accepted within a few turns, not 64; and the
 * shared port stops accepting when the service stops.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Exit, Layer, Scope } from "effect"
import { HttpServer } from "effect/http"
import { execFileSync, spawn } from "node:child_process"
import { subscribe, unsubscribe } from "node:diagnostics_channel"
import { testServer } from "./http.ts"

/** The listening sockets on `port`, as `ss` lists them (one line each). */
const listeners = (port: number): Array<string> =>
  execFileSync("ss", ["-ltnH", `sport = :${port}`], { encoding: "utf8" }).split("\n").filter((line) => line.trim() !== "")

/** Builds the service in a scope of its own: its port, and the scope to stop it with. */
const start = (env: Record<string, string> = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(testServer(), scope).pipe(
      Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })),
      Effect.onError((cause) => Scope.close(scope, Exit.failCause(cause)))
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag === "UnixPathAddress") return yield* Effect.die("the service listens on a path, not a port")
    return { port: address.port, scope }
  })

/**
 * Opens `count` connections to `port` from a child process at once, while this process's event loop runs in
 * 10-ms turns; resolves with the turn in which each was accepted (in the order accepted). Gives up after 3,000
 * turns, saying how many it saw accepted.
 */
const acceptTurns = (port: number, count: number) =>
  new Promise<Array<number>>((resolve, reject) => {
    const turns: Array<number> = []
    let turn = 0
    const onAccept = () => {
      turns.push(turn)
    }
    subscribe("net.server.socket", onAccept)
    const client = spawn(process.execPath, [
      "-e",
      `const net = require("node:net")
       for (let i = 0; i < ${count}; i++) net.connect(${port}, "127.0.0.1").on("error", () => {})
       process.stdin.on("end", () => process.exit(0)).resume()`
    ], { stdio: ["pipe", "inherit", "inherit"] })
    const done = (outcome: () => void) => {
      unsubscribe("net.server.socket", onAccept)
      client.stdin.end()
      outcome()
    }
    // A busy service's turn: 10 ms of synchronous work, then the loop polls its sockets again.
    const busy = () => {
      turn++
      const end = performance.now() + 10
      while (performance.now() < end) {
        // spinning: the turn's work
      }
      if (turns.length >= count) return done(() => resolve(turns))
      if (turn >= 3000) {
        return done(() => reject(new Error(`${turns.length} of ${count} connections accepted after ${turn} turns`)))
      }
      setImmediate(busy)
    }
    setImmediate(busy)
  })

describe("Acceptors", () => {
  it.live("64 connections made at once are accepted within a few busy turns, not one turn each", () =>
    Effect.gen(function*() {
      const { port, scope } = yield* start()
      const turns = yield* Effect.promise(() => acceptTurns(port, 64))
      yield* Scope.close(scope, Exit.void)
      const spanned = turns[turns.length - 1] - turns[0] + 1
      // One listening socket takes one connection per turn: 64 turns. Sixteen take up to sixteen.
      assert.isBelow(spanned, 32, `accepted in turns ${turns.join(",")}`)
    }), { timeout: 60_000 })

  it.live("CHAINJOBS_ACCEPTORS=1 leaves one listening socket; by default the port has sixteen, all closed with the service", () =>
    Effect.gen(function*() {
      const single = yield* start({ CHAINJOBS_ACCEPTORS: "1" })
      assert.lengthOf(listeners(single.port), 1)
      yield* Scope.close(single.scope, Exit.void)

      const spread = yield* start()
      // The added sockets listen a moment after the first: wait for them, bounded.
      let seen = listeners(spread.port).length
      for (let i = 0; i < 100 && seen < 16; i++) {
        yield* Effect.sleep("10 millis")
        seen = listeners(spread.port).length
      }
      assert.strictEqual(seen, 16, `ss: ${listeners(spread.port).join(" | ")}`)
      yield* Scope.close(spread.scope, Exit.void)
      assert.deepStrictEqual(listeners(spread.port), [])
    }), { timeout: 60_000 })

  it.live("a CHAINJOBS_ACCEPTORS that is not a whole number of at least 1 stops the start, naming it", () =>
    Effect.gen(function*() {
      for (const value of ["0", "2.5", "many"]) {
        const exit = yield* Effect.exit(start({ CHAINJOBS_ACCEPTORS: value }))
        if (Exit.isSuccess(exit)) yield* Scope.close(exit.value.scope, Exit.void)
        assert.isTrue(Exit.isFailure(exit), `started with CHAINJOBS_ACCEPTORS=${value}`)
        assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "CHAINJOBS_ACCEPTORS")
      }
    }), { timeout: 60_000 })
})
