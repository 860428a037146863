/**
 * An HTTP body that fails while it is read, other than by passing
 * `maxBodyBytes` (the client's connection reset mid-body, a proxy's stream
 * breaking): the door answers 400 `MalformedRequest` (problem `frame`,
 * "the request body could not be read") and serves none of it. The fault is
 * injected through the web handler of the same routes: a request whose body
 * stream errors after its first bytes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { HttpRouter } from "effect/http"
import { TaskRpcServer } from "@chainjobs/rpc"
import { kinds, serverDependencies } from "./fixtures.ts"
import { requestLine } from "./localServer.ts"

/** A body stream giving `text`, then failing as a connection reset would. */
const breakingBody = (text: string) =>
  new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(new TextEncoder().encode(text))
      controller.error(new Error("the connection was reset"))
    }
  })

describe("a body that cannot be read", () => {
  it.effect("is refused whole with 400 MalformedRequest (frame, the request body could not be read)", () =>
    Effect.gen(function*() {
      const { dispose, handler } = HttpRouter.toWebHandler(
        TaskRpcServer.layerHttp({ path: "/rpc" }).pipe(Layer.provide(serverDependencies(kinds(() => Effect.void)))),
        { disableLogger: true }
      )
      yield* Effect.addFinalizer(() => Effect.promise(dispose))
      const response = yield* Effect.promise(() =>
        handler(
          new Request("http://127.0.0.1/rpc", {
            method: "POST",
            headers: { "content-type": "application/ndjson" },
            body: breakingBody(requestLine("Submit", { kind: "add", payload: { a: 1, b: 2 } })),
            duplex: "half"
          } as RequestInit)
        )
      )
      assert.strictEqual(response.status, 400)
      assert.deepStrictEqual(yield* Effect.promise(() => response.json()), {
        _tag: "MalformedRequest",
        problem: "frame",
        detail: "the request body could not be read"
      })
    }).pipe(Effect.scoped))
})
