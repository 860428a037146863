/**
 * Remote task handles: a chainjobs RPC server and a client that holds handles
 * to tasks running on it. Both run in this process for brevity; the client
 * talks to the server over a real WebSocket on 127.0.0.1 with a bearer token.
 */
import { createServer } from "node:http"
import { NodeHttpServer, NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Exit, Layer, Schema, Stream } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { Auth, TaskRpcClient, TaskRpcServer } from "@chainjobs/rpc"
import { Task, TaskAccess, TaskStore, Tasks } from "@chainjobs/tasks"

// The task kind: the same definition on both sides.
const Reconcile = Task.define("reconcile", {
  payload: Schema.Struct({ accounts: Schema.Int }),
  success: Schema.Struct({ checked: Schema.Int }),
  policy: { timeout: "1 minute" }
})

// The server side: the handler, the supervisor, RPC over WebSocket at /ws.
const ReconcileLive = Task.implement(Reconcile, ({ accounts }, task) =>
  Effect.gen(function*() {
    for (let i = 1; i <= accounts; i++) {
      yield* Effect.sleep("50 millis")
      yield* task.progress((i / accounts) * 100, `account ${i} of ${accounts}`)
    }
    return { checked: accounts }
  }).pipe(Effect.onInterrupt(() => Console.log("server: a reconcile task was interrupted; its finalizer ran"))))

const Server = HttpRouter.serve(TaskRpcServer.layerWebsocket({ path: "/ws" }), { disableLogger: true, disableListenLog: true }).pipe(
  Layer.provide([
    TaskAccess.layer().pipe(
      Layer.provideMerge(ReconcileLive),
      Layer.provideMerge(Tasks.layer()),
      Layer.provideMerge(TaskStore.layerMemory)
    ),
    Auth.layerTokens({ "billing-token": { principal: "billing" } })
  ]),
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" }))
)

// The client side: submit, follow, await; interrupt another task.
const client = Effect.gen(function*() {
  const client = yield* TaskRpcClient.TaskRpcClient
  const handle = yield* client.submit(Reconcile, { accounts: 3 })
  yield* handle.events.pipe(
    Stream.filter((info) => info.message !== null),
    Stream.runForEach((info) => Console.log(`client: ${info.status} ${Math.round(info.progress)}% ${info.message}`))
  )
  const result = yield* handle.join
  yield* Console.log(`client: result ${JSON.stringify(result)}`)

  const long = yield* client.submit(Reconcile, { accounts: 1000 })
  yield* Stream.runDrain(Stream.take(Stream.filter(long.events, (info) => info.progress > 0), 1))
  yield* long.interrupt
  const status = yield* long.status
  const exit = yield* long.await
  yield* Console.log(`client: the long task is ${status}; await says interrupted: ${Exit.hasInterrupts(exit)}`)
})

const program = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const port = server.address._tag === "UnixPathAddress" ? 0 : server.address.port
  yield* client.pipe(Effect.provide(TaskRpcClient.layerWebsocket({ url: `ws://127.0.0.1:${port}/ws`, token: "billing-token" })))
})

NodeRuntime.runMain(program.pipe(Effect.provide(Server)))
