/**
 * The dashboard at `/`: one self-contained HTML page (`dashboard.html`, no
 * CDN, no build step). It lists tasks from `GET /api/tasks`, then follows
 * `GET /api/events` (server-sent events of every change), so it updates live
 * without polling; it submits through `POST /api/tasks/{kind}` and interrupts
 * through `POST /api/tasks/{id}/interrupt`.
 *
 * @since 0.1.0
 */
import { Effect, FileSystem, Layer } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { fileURLToPath } from "node:url"

/** Where the page lives, next to this module. */
export const pageUrl: URL = new URL("./dashboard.html", import.meta.url)

/** Serves the dashboard page at `/`, read once when the layer is built. */
export const layer: Layer.Layer<never, never, HttpRouter.HttpRouter | FileSystem.FileSystem> = Layer.effectDiscard(
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const html = yield* Effect.orDie(fs.readFileString(fileURLToPath(pageUrl)))
    const router = yield* HttpRouter.HttpRouter
    yield* router.add("GET", "/", Effect.succeed(HttpServerResponse.html(html)))
  })
)
