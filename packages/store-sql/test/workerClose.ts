/** A worker-thread client closed while statements wait, for the tests of how such a client ends. */
import { Context, Effect, Exit, Fiber, Layer, Scope } from "effect"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"

/**
 * Closes a worker-thread client on a fresh file while a long count runs on the thread and a `SELECT 1`
 * waits for the connection; answers the closed client, the count's rows and the waiting statement's error.
 */
export const closedWhileWaiting = Effect.gen(function*() {
  const filename = yield* tempDatabaseFile
  const scope = yield* Scope.make()
  const context = yield* Layer.buildWithScope(NodeSqliteClient.layer({ filename, worker: true }), scope)
  const client = Context.get(context, NodeSqliteClient.NodeSqliteClient)
  // Long enough that the close and the next statement are sent while it runs on the thread.
  const running = yield* Effect.forkChild(
    client<{ n: number }>`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT count(*) AS n FROM c`,
    { startImmediately: true }
  )
  const waiting = yield* Effect.forkChild(client`SELECT 1 AS one`, { startImmediately: true })
  const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
  const counted = yield* Fiber.join(running)
  const stopped = yield* Effect.flip(Fiber.join(waiting))
  yield* Fiber.join(closing)
  return { client, counted, stopped }
})
