/**
 * A queue of new connections drains in few turns of the service's event
 * loop (`Acceptors`): libuv takes one connection per listening socket per
 * poll, so a service with n sockets needs as many turns as its deepest
 * accept queue holds: at least 1,024 / n for 1,024 connections waiting in
 * the kernel. With the loop held while a child process opens 1,024
 * connections (over real sockets) until the kernel has queued them all,
 * the service accepts them in fewer than 20 turns — what 64 sockets could
 * never do. (With 256 connections the kernel's spread over 64 sockets put
 * up to 16 on one socket in one run of ten: too close to 16 sockets' bound.
 * The turns are the fullest socket's count: 1,024 hashed over 256 sockets
 * put about 4 on each, 20 or more on one about 3 runs in a million; over 64
 * sockets, 16 on each, fewer than 20 on the fullest about 2 in a million.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { execFileSync, spawn } from "node:child_process"
import { subscribe, unsubscribe } from "node:diagnostics_channel"
import * as Acceptors from "../src/Acceptors.ts"
import { testServer } from "./http.ts"

/** The accept queue of each listening socket on `port` (`ss`'s Recv-Q of a listener). */
const queues = (port: number): Array<number> =>
  execFileSync("ss", ["-ltnH", `sport = :${port}`], { encoding: "utf8" }).split("\n").filter((line) => line.trim() !== "")
    .map((line) => Number(line.trim().split(/\s+/)[1]))

/** Turns of the event loop (a poll each, between two `setImmediate`s) until `count` connections are accepted. */
const turnsToAccept = (count: number) =>
  new Promise<number>((resolve, reject) => {
    let accepted = 0
    let turns = 0
    const onAccept = () => {
      accepted++
    }
    subscribe("net.server.socket", onAccept)
    const next = () => {
      if (accepted >= count || turns >= 1000) {
        unsubscribe("net.server.socket", onAccept)
        return accepted >= count ? resolve(turns) : reject(new Error(`${accepted} of ${count} accepted in ${turns} turns`))
      }
      turns++
      setImmediate(next)
    }
    setImmediate(next)
  })

describe("Acceptors: a full queue", () => {
  it.live("1,024 connections queued in the kernel are accepted in fewer than 20 turns", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(testServer())
      const address = Context.get(context, HttpServer.HttpServer).address
      if (address._tag === "UnixPathAddress") return yield* Effect.die("the service listens on a path, not a port")
      const port = address.port
      // The added sockets listen a moment after the first: wait for all of them (the test's timeout bounds the wait).
      while (queues(port).length < Acceptors.defaultCount) yield* Effect.sleep("10 millis")
      assert.strictEqual(queues(port).length, Acceptors.defaultCount)

      const count = 1024
      const client = spawn(process.execPath, [
        "-e",
        `const net = require("node:net")
         for (let i = 0; i < ${count}; i++) net.connect(${port}, "127.0.0.1").on("error", () => {})
         process.stdin.on("end", () => process.exit(0)).resume()`
      ], { stdio: ["pipe", "inherit", "inherit"] })
      yield* Effect.addFinalizer(() => Effect.sync(() => client.stdin.end()))
      // This loop held (nothing accepted) until the kernel holds every connection in the queues, bounded.
      const deadline = Date.now() + 30_000
      let queued = 0
      while (queued < count && Date.now() < deadline) queued = queues(port).reduce((sum, depth) => sum + depth, 0)
      assert.strictEqual(queued, count, "the kernel did not queue every connection")

      const turns = yield* Effect.promise(() => turnsToAccept(count))
      // Sixty-four sockets take 64 a turn: 16 turns at the least, and the hash's spread leaves the fullest above 20.
      assert.isBelow(turns, 20, `accepted in ${turns} turns`)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
