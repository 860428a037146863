/**
 * The service's cap on open connections (`maxOpenConnections`), with real
 * sockets against the service on 127.0.0.1 (its port shared by the default
 * listening sockets, `Acceptors`): a connection accepted while the limit is
 * open is closed at once without a byte of answer, the open ones are served
 * on, one closed makes room for a new one, and `/metrics` counts each
 * refused (`chainjobs_connections_refused_total`). Also the setting's
 * hostile values, refused at start naming the variable.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Schema } from "effect"
import * as Net from "node:net"
import * as ServerConfig from "../src/ServerConfig.ts"
import { baseUrl, testServer } from "./http.ts"

/** A raw connection to the server under test, with what it has received so far and whether it closed. */
interface Raw {
  readonly socket: Net.Socket
  readonly received: () => string
  readonly closed: Promise<void>
}

/** `effect`, or a failure naming `what` never came within 20 s. */
const within = (what: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutOrElse(effect, { duration: "20 seconds", orElse: () => Effect.die(new Error(`${what} never came within 20 s`)) })

/** Opens a raw connection to the server under test, once connected. */
const connect = Effect.flatMap(baseUrl, (base) =>
  Effect.callback<Raw>((resume) => {
    const { hostname, port } = new URL(base)
    const socket = Net.connect({ host: hostname, port: Number(port) })
    let text = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      text += chunk
    })
    // A connection reset by the server is an end like any other here.
    socket.on("error", () => {})
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()))
    socket.once("connect", () => resume(Effect.succeed({ socket, received: () => text, closed })))
  })).pipe(within("a TCP connection to the server"))

/** Sends `GET path` on a kept-alive connection and waits for the whole answer: its status and body. */
const ask = (raw: Raw, path: string) =>
  Effect.callback<{ readonly status: number; readonly body: string }, Error>((resume) => {
    const from = raw.received().length
    const check = () => {
      const text = raw.received().slice(from)
      const head = text.indexOf("\r\n\r\n")
      if (head === -1) return
      const length = /content-length: (\d+)/i.exec(text.slice(0, head))
      const body = text.slice(head + 4)
      if (length === null || body.length < Number(length[1])) return
      raw.socket.off("data", check)
      resume(Effect.succeed({ status: Number(text.slice(9, 12)), body }))
    }
    raw.socket.on("data", check)
    raw.closed.then(() => resume(Effect.fail(new Error(`the connection closed before answering ${path}`))))
    raw.socket.write(`GET ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`)
  }).pipe(within(`the answer to GET ${path}`))

/** The refused connections `/metrics` shows, asked on `raw`. */
const refusedOn = (raw: Raw) =>
  Effect.map(ask(raw, "/metrics"), ({ body }) => {
    const line = /^chainjobs_connections_refused_total (\d+)$/m.exec(body)
    return line === null ? 0 : Number(line[1])
  })

describe("the HTTP server with maxOpenConnections 3", () => {
  // The service is built in the test itself (not in a suite's layer): each check is the test's own.
  it.live("a fourth connection is closed at once unanswered, the three open are served on, and one closed makes room", () =>
    Effect.gen(function*() {
      const open = [yield* connect, yield* connect, yield* connect]
      for (const raw of open) assert.strictEqual((yield* ask(raw, "/healthz")).status, 200)
      const refusedBefore = yield* refusedOn(open[0]!)
      const fourth = yield* connect
      fourth.socket.write("GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
      yield* Effect.promise(() => fourth.closed).pipe(within("the close of the fourth connection"))
      assert.strictEqual(fourth.received(), "", "not a byte of answer")
      // The three open are untouched.
      for (const raw of open) assert.strictEqual((yield* ask(raw, "/healthz")).status, 200)
      assert.strictEqual(yield* refusedOn(open[1]!), refusedBefore + 1, "the refusal counted")
      // One closed makes room: a new connection is served once the server has seen it go.
      open[0]!.socket.destroy()
      let served = false
      for (let attempt = 0; attempt < 1000 && !served; attempt++) {
        const next = yield* connect
        const answer = yield* Effect.exit(ask(next, "/healthz"))
        served = Exit.isSuccess(answer) && answer.value.status === 200
        if (served) open[0] = next
        else yield* Effect.sleep("20 millis")
      }
      assert.isTrue(served, "no new connection was served after one of the three closed")
      for (const raw of open) raw.socket.destroy()
    }).pipe(Effect.provide(testServer({ maxOpenConnections: 3 }))), 60_000)
})

const loadFrom = (env: Record<string, string>) =>
  Effect.exit(Effect.provideService(ServerConfig.load, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))

describe("CHAINJOBS_MAX_OPEN_CONNECTIONS and CHAINJOBS_MAX_TASK_STREAMS", () => {
  const variables = ["CHAINJOBS_MAX_OPEN_CONNECTIONS", "CHAINJOBS_MAX_TASK_STREAMS"] as const

  it.effect.prop(
    "a value that is no whole number of at least 1 is refused at start with a ServerConfigError naming the variable",
    {
      which: Schema.Literals(variables),
      value: Schema.Literals(["0", "-1", "2.5", "many", "1e400", "NaN", "Infinity", "-Infinity", "10 connections", "0x"])
    },
    ({ which, value }) =>
      Effect.gen(function*() {
        const exit = yield* loadFrom({ [which]: value })
        assert.isTrue(Exit.isFailure(exit), `${which}=${value} was accepted`)
        if (Exit.isFailure(exit)) {
          const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
          assert.strictEqual(error?._tag === "Fail" && error.error._tag, "ServerConfigError")
          assert.include(error?._tag === "Fail" ? error.error.message : "", which)
        }
      }),
    { timeout: 60_000, arbitrary: { runs: 30 } }
  )

  it.effect("set, each is taken as it is; unset, 10000 connections and 4096 task streams", () =>
    Effect.gen(function*() {
      const set = yield* loadFrom({ CHAINJOBS_MAX_OPEN_CONNECTIONS: "7", CHAINJOBS_MAX_TASK_STREAMS: "9" })
      assert.isTrue(Exit.isSuccess(set))
      if (Exit.isSuccess(set)) assert.deepStrictEqual([set.value.maxOpenConnections, set.value.maxTaskStreams], [7, 9])
      const unset = yield* loadFrom({})
      assert.isTrue(Exit.isSuccess(unset))
      if (Exit.isSuccess(unset)) assert.deepStrictEqual([unset.value.maxOpenConnections, unset.value.maxTaskStreams], [10_000, 4096])
    }))
})
