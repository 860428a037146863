/**
 * How the RPC clients frame their calls over WebSocket, seen from a raw
 * WebSocket server that counts the messages it receives and answers nothing:
 * the calls made in one turn arrive as one message of ndjson lines.
 */
import { NodeSocketServer } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, type Scope } from "effect"
import { TaskRpcClient, WatchRpcClient } from "@chainjobs/rpc"

/** A WebSocket server on a free 127.0.0.1 port that keeps every message it receives; its scope closes it. */
const countingServer = Effect.gen(function*() {
  const server = yield* NodeSocketServer.makeWebSocket({ host: "127.0.0.1", port: 0 })
  const messages: Array<string> = []
  const decoder = new TextDecoder()
  yield* Effect.forkScoped(server.run((socket) =>
    Effect.scoped(Effect.flatMap(socket.reader, (reader) =>
      Effect.forever(Effect.map(reader.pull, (chunks) => {
        for (const chunk of chunks) messages.push(typeof chunk === "string" ? chunk : decoder.decode(chunk))
      }))))
  ))
  const address = server.address
  if (address._tag === "UnixPathAddress") return yield* Effect.die("expected a TCP address")
  /** The request lines received so far. */
  const requests = () =>
    messages.flatMap((message) => message.split("\n")).filter((line) => line.includes(`"_tag":"Request"`))
  return { url: `ws://127.0.0.1:${address.port}`, messages, requests }
})

/** Waits (on the wall clock) until `done` holds. */
const until = (done: () => boolean) =>
  Effect.gen(function*() {
    while (!done()) yield* Effect.sleep("5 millis")
  })

/**
 * Connects a client to a counting server, makes 50 calls in one turn (never
 * answered: each waits until the test's scope ends) and checks how many
 * messages carried them.
 */
const fiftyCallsInOneTurn = (
  connect: (url: string) => Effect.Effect<(n: number) => Effect.Effect<unknown, unknown>, never, Scope.Scope>
) =>
  Effect.gen(function*() {
    const server = yield* countingServer
    const call = yield* connect(server.url)
    for (let n = 0; n < 50; n++) yield* Effect.forkScoped(call(n))
    yield* until(() => server.requests().length >= 50)
    assert.strictEqual(server.requests().length, 50)
    assert.isBelow(server.messages.length, 5)
  }).pipe(Effect.scoped)

/** Each client: how it connects, and one call of it. */
const clients: ReadonlyArray<readonly [string, (url: string) => Effect.Effect<(n: number) => Effect.Effect<unknown, unknown>, never, Scope.Scope>]> = [
  ["WatchRpcClient", (url) =>
    Effect.map(Layer.build(WatchRpcClient.layerWebsocket({ url, token: "t" })), (context) => (n) =>
      Context.get(context, WatchRpcClient.WatchRpcClient).lag(`watcher-${n}`))],
  ["TaskRpcClient", (url) =>
    Effect.map(Layer.build(TaskRpcClient.layerWebsocket({ url, token: "t" })), (context) => (n) =>
      Context.get(context, TaskRpcClient.TaskRpcClient).get(`task-${n}`))]
]

describe("WebSocket framing of the clients", () => {
  for (const [name, connect] of clients) {
    it.live(`${name}: 50 calls made in one turn arrive as one message or two, not fifty`, () => fiftyCallsInOneTurn(connect), 30_000)
  }
})
