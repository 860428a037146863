/**
 * The service accepts many new connections per turn of its event loop
 * (`Acceptors`), where Node's single listening socket takes one: with the
 * loop busy in 10-ms turns, 64 connections made at once (by a child process,
 * over real sockets) are all accepted within a few turns, not 64; and the
 * shared port stops accepting when the service stops. Closing waits for the
 * connections the added sockets accepted, an accept error leaves a socket
 * listening, and a second service on the same fixed port is refused. A
 * close of a server not running reports Node's error to its callback.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Context, Effect, Exit, Layer, Scope } from "effect"
import { HttpServer, HttpServerError } from "effect/http"
import { execFileSync, spawn } from "node:child_process"
import { subscribe, unsubscribe } from "node:diagnostics_channel"
import * as Http from "node:http"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Acceptors from "../src/Acceptors.ts"
import type { ServerSettings } from "../src/ServerConfig.ts"
import { testServer } from "./http.ts"

/** The listening sockets on `port`, as `ss` lists them (one line each). */
const listeners = (port: number): Array<string> =>
  execFileSync("ss", ["-ltnH", `sport = :${port}`], { encoding: "utf8" }).split("\n").filter((line) => line.trim() !== "")

/** Builds the service in a scope of its own (`settings` over the test ones): its port, and the scope to stop it with. */
const start = (env: Record<string, string> = {}, settings: Partial<ServerSettings> = {}) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(testServer(settings), scope).pipe(
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

/**
 * A plain HTTP server spread over two listening sockets on 127.0.0.1, listening: `handle` gets each request's
 * response and whether the added socket accepted its connection; `errors` collects the added socket's errors.
 * The scope closes it and its connections.
 */
const spreadServer = (handle: (response: Http.ServerResponse, onAdded: boolean) => void) =>
  Effect.gen(function*() {
    const errors: Array<Error> = []
    // The connections the added socket accepted (the HTTP server sets every socket's `server` to itself).
    const onAdded = new WeakSet<Net.Socket>()
    const server: Http.Server = Acceptors.spread(
      Http.createServer((request, response) => handle(response, onAdded.has(request.socket))),
      2,
      511,
      (error) => errors.push(error)
    )
    yield* Effect.acquireRelease(
      Effect.promise(() =>
        new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0, ...Acceptors.listenOptions(2) }, resolve))
      ),
      () =>
        Effect.sync(() => {
          server.closeAllConnections()
          if (server.listening) server.close()
        })
    )
    // The added socket listens a moment after the server: wait for it (the test's timeout bounds the wait).
    while (Acceptors.listening(server) < 1) yield* Effect.sleep("10 millis")
    assert.strictEqual(Acceptors.listening(server), 1)
    const [added] = Acceptors.addedTo(server)
    // First: marked before the socket is handed over (its request comes later still).
    added.prependListener("connection", (socket: Net.Socket) => onAdded.add(socket))
    const address = server.address() as Net.AddressInfo
    return { added, errors, port: address.port, server }
  })

/**
 * Sends `count` requests at once, each on a connection of its own (`agent`: a new one each, or `false`: none),
 * and resolves once the server has seen all of them (`seen` counts them, answered or held).
 */
const sendAll = (port: number, count: number, seen: () => number, agent: () => Http.Agent | false = () => false) =>
  Effect.promise(() =>
    new Promise<void>((resolve) => {
      for (let i = 0; i < count; i++) {
        Http.get({ host: "127.0.0.1", port, agent: agent() }, (response) => response.resume()).on("error", () => {})
      }
      const check = () => (seen() >= count ? resolve() : void setTimeout(check, 5))
      check()
    })
  )

/** Closes `server`; resolves when its `close` callback runs. */
const closed = (server: Http.Server) => new Promise<void>((resolve) => server.close(() => resolve()))

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

  it.live("CHAINJOBS_ACCEPTORS=1 leaves one listening socket; by default the port has defaultCount, all closed with the service", () =>
    Effect.gen(function*() {
      const single = yield* start({ CHAINJOBS_ACCEPTORS: "1" })
      assert.lengthOf(listeners(single.port), 1)
      yield* Scope.close(single.scope, Exit.void)

      const spread = yield* start()
      // The added sockets listen a moment after the first: wait for them (the test's timeout bounds the wait).
      let seen = listeners(spread.port).length
      while (seen < Acceptors.defaultCount) {
        yield* Effect.sleep("10 millis")
        seen = listeners(spread.port).length
      }
      assert.strictEqual(seen, Acceptors.defaultCount, `ss: ${listeners(spread.port).join(" | ")}`)
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
  it.live("close waits for a request on a connection an added socket accepted", () =>
    Effect.gen(function*() {
      // Requests on the server's own socket are answered (their connections close); those on the added one held.
      const held: Array<Http.ServerResponse> = []
      let answered = 0
      const { port, server } = yield* spreadServer((response, onAdded) => {
        if (onAdded) return void held.push(response)
        answered++
        response.end("main")
      })
      // 32 connections: the kernel spreads them over both sockets (all on one: 1 chance in 2^31).
      yield* sendAll(port, 32, () => answered + held.length)
      assert.isAbove(held.length, 0)
      let done = false
      const closing = closed(server).then(() => {
        done = true
      })
      // The server's own connections have ended by now; the held requests have not.
      yield* Effect.sleep("200 millis")
      assert.isFalse(done, "close reported closed under a request on an added socket")
      for (const response of held) response.end("added")
      yield* Effect.promise(() => closing)
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("close ends the idle keep-alive connections the added socket accepted, as the server's own", () =>
    Effect.gen(function*() {
      let onAdded = 0
      let seen = 0
      const { port, server } = yield* spreadServer((response, added) => {
        seen++
        if (added) onAdded++
        response.end("ok")
      })
      // An idle connection left open would end only at its keep-alive timeout: an hour, past the test's timeout.
      server.keepAliveTimeout = 3_600_000
      const agents: Array<Http.Agent> = []
      yield* Effect.addFinalizer(() => Effect.sync(() => agents.forEach((agent) => agent.destroy())))
      // Each connection stays open, idle, after its one response.
      yield* sendAll(port, 32, () => seen, () => {
        const agent = new Http.Agent({ keepAlive: true })
        agents.push(agent)
        return agent
      })
      assert.isAbove(onAdded, 0)
      // `close` ends idle connections (`closeIdleConnections`) at once: the added socket's too, or its close would
      // wait for their keep-alive timeout (an hour), and the test would time out.
      yield* Effect.promise(() => closed(server))
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("an accept error on an added socket is reported, and the socket keeps listening and accepting", () =>
    Effect.gen(function*() {
      let onAdded = 0
      let seen = 0
      const { added, errors, port, server } = yield* spreadServer((response, onIt) => {
        seen++
        if (onIt) onAdded++
        response.end("ok")
      })
      // What Node's server emits when accept(2) fails (EMFILE under a flood); its handle stays listening.
      const failure = Object.assign(new Error("accept EMFILE"), { code: "EMFILE", errno: -24, syscall: "accept" })
      added.emit("error", failure)
      assert.deepStrictEqual(errors, [failure])
      assert.strictEqual(Acceptors.listening(server), 1)
      yield* sendAll(port, 32, () => seen)
      assert.isAbove(onAdded, 0, "the added socket accepted nothing after the error")
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a second service on the same fixed port fails to start, the address in use", () =>
    Effect.gen(function*() {
      const first = yield* start()
      const second = yield* Effect.exit(start({}, { port: first.port }))
      if (Exit.isSuccess(second)) yield* Scope.close(second.value.scope, Exit.void)
      yield* Scope.close(first.scope, Exit.void)
      assert.isTrue(Exit.isFailure(second), "a second service shared the port")
      // As one socket is refused: the server's `ServeError`, of listen's address-in-use error.
      const error = Exit.isFailure(second) ? Cause.squash(second.cause) : undefined
      assert.instanceOf(error, HttpServerError.ServeError)
      assert.strictEqual((error.cause as NodeJS.ErrnoException).code, "EADDRINUSE")
    }), { timeout: 60_000 })

  it("with one socket nothing is added and the port is not shared", () => {
    const server = Http.createServer()
    assert.strictEqual(Acceptors.spread(server, 1, 511, () => {}), server)
    assert.deepStrictEqual(Acceptors.addedTo(server), [])
    assert.strictEqual(Acceptors.listening(server), 0)
    // One socket listens as Node's own (a second process cannot join its port); more share it.
    assert.deepStrictEqual(Acceptors.listenOptions(1), { reusePort: false })
    assert.deepStrictEqual(Acceptors.listenOptions(2), { reusePort: true })
  })

  it.live("a server listening on a path (a Unix socket) gets no added socket", () =>
    Effect.gen(function*() {
      const path = join(tmpdir(), `chainjobs-acceptors-${process.pid}.sock`)
      const server = Acceptors.spread(Http.createServer(), 3, 511, () => {})
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve) => server.listen(path, resolve))),
        () => Effect.promise(() => closed(server))
      )
      assert.deepStrictEqual(Acceptors.addedTo(server), [])
    }).pipe(Effect.scoped))

  it.live("a server closed before its added sockets listen has each closed as it listens, and reports 0 listening", () =>
    Effect.gen(function*() {
      const server = Acceptors.spread(Http.createServer(), 3, 511, () => {})
      // Closed in its own `listening` callback, which runs after spread's: the added sockets are made and still
      // resolving their address (not listening yet).
      const started = yield* Effect.promise(() =>
        new Promise<{ port: number; atClose: number; added: ReadonlyArray<Net.Server>; listened: Promise<unknown>; closing: Promise<void> }>(
          (resolve) =>
            server.listen({ host: "127.0.0.1", port: 0, ...Acceptors.listenOptions(3) }, () => {
              const added = Acceptors.addedTo(server)
              const atClose = Acceptors.listening(server)
              const listened = Promise.all(added.map((extra) => new Promise((done) => extra.once("listening", done))))
              const port = (server.address() as Net.AddressInfo).port
              resolve({ port, atClose, added, listened, closing: closed(server) })
            })
        )
      )
      assert.strictEqual(started.added.length, 2)
      assert.strictEqual(started.atClose, 0)
      yield* Effect.promise(() => started.closing)
      // Spread's own `listening` handler of each added socket runs before this test's: each was closed at once.
      yield* Effect.promise(() => started.listened)
      assert.strictEqual(Acceptors.listening(server), 0)
      assert.deepStrictEqual(listeners(started.port), [])
    }))

  it.live("a claim of a free fixed port succeeds and leaves the port free", () =>
    Effect.gen(function*() {
      // A port free a moment ago: the test's own socket, closed.
      const free = Net.createServer()
      yield* Effect.promise(() => new Promise<void>((resolve) => free.listen({ host: "127.0.0.1", port: 0 }, resolve)))
      const port = (free.address() as Net.AddressInfo).port
      yield* Effect.promise(() => new Promise<void>((resolve) => free.close(() => resolve())))
      yield* Acceptors.claim(2, "127.0.0.1", port)
      // The probe closed: a socket of its own (no `reusePort`) takes the port.
      const own = Net.createServer()
      yield* Effect.promise(() =>
        new Promise<void>((resolve, reject) => {
          own.once("error", reject)
          own.listen({ host: "127.0.0.1", port }, resolve)
        })
      )
      yield* Effect.promise(() => new Promise<void>((resolve) => own.close(() => resolve())))
    }), { timeout: 15_000 })

  it("a close of a spread server not running hands Node's error to its callback, and needs no callback", async () => {
    const server = Acceptors.spread(Net.createServer(), 2, 511, () => {})
    const error = await new Promise<Error | undefined>((resolve) => server.close(resolve))
    assert.strictEqual((error as { code?: string } | undefined)?.code, "ERR_SERVER_NOT_RUNNING")
    // No callback: the server just closes (its `close` event) — nothing thrown where the callback would be called.
    const other = Acceptors.spread(Net.createServer(), 2, 511, () => {})
    const closed = new Promise<void>((resolve) => other.once("close", () => resolve()))
    other.close()
    await closed
  })
})
