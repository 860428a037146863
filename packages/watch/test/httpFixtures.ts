/**
 * `WatchApi` served on a free port of 127.0.0.1 over a watch runtime on the
 * dev chain, and a call to it answering the status and the parsed body.
 */
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpRouter, HttpServer } from "effect/http"
import { createServer } from "node:http"
import * as WatchApi from "../src/WatchApi.ts"
import { sharedRuntime } from "./fixtures.ts"

/** The API on a free port of 127.0.0.1, over a watch runtime on the dev chain. */
export const served = HttpRouter.serve(WatchApi.layer, { disableLogger: true }).pipe(
  Layer.provideMerge(NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
  Layer.provideMerge(sharedRuntime())
)

/** One request to the served API: its status and its body (parsed JSON, the text when it is not JSON, `undefined` when empty). A `string` body is sent as it is. */
export const call = (method: string, path: string, body?: unknown) =>
  Effect.flatMap(Effect.service(HttpServer.HttpServer), (server) =>
    Effect.promise(async () => {
      const response = await fetch(HttpServer.formatAddress(server.address) + path, {
        method,
        ...(body === undefined
          ? {}
          : { headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) })
      })
      const text = await response.text()
      let answer: any = undefined
      try {
        answer = text.length === 0 ? undefined : JSON.parse(text)
      } catch {
        answer = text
      }
      return { status: response.status, body: answer }
    }))
