/**
 * A chainjobs RPC server for the cross-process tests, run by the pinned Node
 * (`node packages/rpc/test/server.ts`). It serves `/rpc` (HTTP) and `/ws`
 * (WebSocket) on a free port of 127.0.0.1 and prints `listening <port>`, then
 * `finished <task id> <how>` whenever a `steps` or `gated` task ends. It stops when its
 * stdin closes (the test process ended) or after two minutes.
 */
import { createServer } from "node:http"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { TaskRpcServer } from "@chainjobs/rpc"
import { kinds, serverDependencies } from "./fixtures.ts"

const say = (line: string) => Effect.sync(() => process.stdout.write(`${line}\n`))

const Routes = Layer.mergeAll(
  TaskRpcServer.layerHttp({ path: "/rpc" }),
  TaskRpcServer.layerWebsocket({ path: "/ws" })
).pipe(Layer.provide(serverDependencies(kinds((id, how) => say(`finished ${id} ${how}`)))))

const Server = HttpRouter.serve(Routes, { disableLogger: true, disableListenLog: true }).pipe(
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

const stdinClosed = Effect.callback<void>((resume) => {
  process.stdin.once("close", () => resume(Effect.void))
  process.stdin.resume()
})

const main = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  if (server.address._tag !== "UnixPathAddress") yield* say(`listening ${server.address.port}`)
  yield* Effect.timeoutOption(stdinClosed, "2 minutes")
})

NodeRuntime.runMain(main.pipe(Effect.provide(Server)))
