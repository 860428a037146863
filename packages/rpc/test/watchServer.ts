/**
 * The watch RPC group served in the test process: `WatchRpcServer` over HTTP
 * (`/rpc/watch`) and WebSocket (`/ws/watch`) on a free port of 127.0.0.1,
 * over real watchers and a real balance cache — watch tables in a SQLite
 * file, a supervisor, the chain adapters of a Hardhat dev chain — with the
 * test tokens (`alice`, `bob`: principals; `root`: an admin).
 */
import { createServer } from "node:http"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeHttpServer } from "@effect/platform-node"
import { assert } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { ChainConfig, Chains } from "@chainjobs/chain"
import { DevChain } from "@chainjobs/devchain"
import { Auth, type TaskRpcServer, WatchRpcServer } from "@chainjobs/rpc"
import { NodeSqliteClient } from "@chainjobs/store-sql"
import { TaskAccess, TaskStore, Tasks } from "@chainjobs/tasks"
import { BalanceCache, EvmAdapter, Watchers, WatchProcessor } from "@chainjobs/watch"
import { tokens } from "./fixtures.ts"

/** The processor kind of the test watchers: it does nothing but record each item as processed. */
export const Noted = WatchProcessor.define("rpc.test.noted")

/** The paths the group is served at. */
export const paths = { http: "/rpc/watch", websocket: "/ws/watch" } as const

/** The port of the server this layer started, and the dev chain it watches. */
export class WatchServer extends Context.Service<WatchServer, { readonly port: number }>()("test/WatchServer") {}

/** A fresh directory, removed with everything in it when the scope closes. */
const tempDirectory = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "chainjobs-rpc-watch-"))),
  (directory) => Effect.sync(() => rmSync(directory, { recursive: true, force: true }))
)

/**
 * The watchers, the balance cache, the access rules and the tokens over the
 * dev chain at `url` (the chain `dev`), with the watch tables in `directory`.
 */
const watchRuntime = (url: string, directory: string, access: Partial<TaskAccess.TaskAccessConfig>) => {
  const chains = Chains.layerMemory([
    ChainConfig.chain({
      name: "dev",
      chainId: DevChain.chainId,
      endpoints: [{ url }],
      headTtl: "1 millis",
      requestTimeout: "2 seconds",
      retry: { base: "5 millis", max: "50 millis", times: 10 }
    })
  ])
  const supervisor = TaskAccess.layer(access).pipe(
    Layer.provideMerge(WatchProcessor.implement(Noted, () => Effect.void)),
    Layer.provideMerge(Tasks.layer({ shutdownGracePeriod: "10 millis" })),
    Layer.provideMerge(TaskStore.layerMemory)
  )
  return Layer.mergeAll(Watchers.layer({ pollInterval: "50 millis" }), Auth.layerTokens(tokens)).pipe(
    Layer.provideMerge(BalanceCache.layer()),
    Layer.provideMerge(Layer.mergeAll(EvmAdapter.layer.pipe(Layer.provide(chains)), supervisor)),
    Layer.provideMerge(NodeSqliteClient.layer({ filename: join(directory, "watch.db") })),
    Layer.orDie
  )
}

/**
 * The server on a free port of 127.0.0.1 with the transport `config`, over a
 * watch runtime on the dev chain; it stops with the layer.
 */
export const watchServer = (
  config: Partial<TaskRpcServer.TaskRpcServerConfig> = {},
  access: Partial<TaskAccess.TaskAccessConfig> = {}
) =>
  Layer.unwrap(Effect.gen(function*() {
    const chain = yield* DevChain.DevChain
    const directory = yield* tempDirectory
    const runtime = watchRuntime(chain.url, directory, access)
    const served = HttpRouter.serve(
      Layer.mergeAll(
        WatchRpcServer.layerHttp({ path: paths.http, ...config }),
        WatchRpcServer.layerWebsocket({ path: paths.websocket, ...config })
      ),
      { disableLogger: true, disableListenLog: true }
    ).pipe(Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })))
    const port = Layer.effect(
      WatchServer,
      Effect.map(HttpServer.HttpServer, (server) => {
        const address = server.address
        if (address._tag === "UnixPathAddress") return assert.fail("the server listens on a path, not a port")
        return { port: address.port }
      })
    )
    return port.pipe(Layer.provideMerge(served), Layer.provideMerge(runtime))
  })).pipe(Layer.provideMerge(DevChain.layer()))
