/**
 * The RPC server in the test process, on a free port of 127.0.0.1 (`/rpc`
 * over HTTP, `/ws` over WebSocket), and raw clients of it: a test sees
 * exactly what a client in another language would.
 */
import { createServer } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { assert } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { TaskRpcServer } from "@chainjobs/rpc"
import type { TaskAccess } from "@chainjobs/tasks"
import { kinds, serverDependencies } from "./fixtures.ts"

/** Starts the server in the current scope with the access rules `access` and the transport's `config`; its port. */
export const serve = (access: Partial<TaskAccess.TaskAccessConfig>, config: Partial<TaskRpcServer.TaskRpcServerConfig> = {}) =>
  serveRoutes(
    Layer.mergeAll(
      TaskRpcServer.layerHttp({ path: "/rpc", ...config }),
      TaskRpcServer.layerWebsocket({ path: "/ws", ...config })
    ),
    access
  )

/** Starts an HTTP server of `routes` in the current scope, its dependencies those of the RPC server; its port. */
export const serveRoutes = <E>(
  routes: Layer.Layer<never, E, HttpRouter.HttpRouter | TaskRpcServer.Requirements>,
  access: Partial<TaskAccess.TaskAccessConfig> = {}
) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      HttpRouter.serve(
        routes.pipe(Layer.provide(serverDependencies(kinds(() => Effect.void), access))),
        { disableLogger: true, disableListenLog: true }
      ).pipe(Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })))
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    if (address._tag === "UnixPathAddress") return assert.fail("the server listens on a path, not a port")
    return address.port
  })

/** One request line: `tag` with `payload`, alice's token in its headers. */
export const requestLine = (tag: string, payload: unknown, id: string = "1") =>
  `${JSON.stringify({ _tag: "Request", id, tag, payload, headers: [["authorization", "Bearer alice-token"]] })}\n`

/** What the server answered one HTTP body: the status and the parsed body lines. */
export const overHttp = (port: number, body: string) =>
  Effect.promise(async () => {
    const response = await fetch(`http://127.0.0.1:${port}/rpc`, {
      method: "POST",
      headers: { "content-type": "application/ndjson" },
      body
    })
    const text = await response.text()
    return { status: response.status, body: text.trim().split("\n").map((l) => JSON.parse(l)) }
  })

/** What a raw WebSocket received for `messages` (sent one after another): the answer lines, and how the server closed it. */
export interface Exchange {
  readonly answers: ReadonlyArray<any>
  readonly code?: number
  readonly reason?: string
}

/**
 * Sends `messages` over a raw WebSocket and collects the answer lines until
 * the server closes the socket, or until `lines` answers have arrived (then
 * it closes it itself).
 */
export const overWebsocket = (port: number, messages: ReadonlyArray<string | Uint8Array>, lines = Infinity) =>
  Effect.promise(() =>
    new Promise<Exchange>((resolve) => {
      const answers: Array<any> = []
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`)
      socket.onopen = () => {
        for (const message of messages) socket.send(message)
      }
      socket.onmessage = (event) => {
        for (const line of String(event.data).split("\n")) if (line !== "") answers.push(JSON.parse(line))
        if (answers.length >= lines) {
          socket.onclose = null
          socket.close()
          resolve({ answers })
        }
      }
      socket.onclose = (event) => resolve({ answers, code: event.code, reason: event.reason })
    })
  )
