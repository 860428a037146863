/**
 * The worker thread that holds the database is a second V8 isolate: its
 * young generation is capped (`workerYoungGenerationMb`), below what a thread
 * gets by default (the main isolate's, which it grew into under issue 17's
 * load), and its heap is told by `workerHeap` — nothing on the caller's
 * thread or once the thread has stopped.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { Worker } from "node:worker_threads"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"

/** The heap limit of a thread started with Node's defaults (MB). */
const defaultThreadLimit = Effect.acquireUseRelease(
  Effect.callback<Worker>((resume) => {
    const worker = new Worker("setInterval(() => {}, 1000)", { eval: true })
    worker.once("online", () => resume(Effect.succeed(worker)))
  }),
  (worker) => Effect.promise(() => worker.getHeapStatistics()),
  (worker) => Effect.promise(() => worker.terminate())
)

const mb = 2 ** 20

describe("NodeSqliteClient's worker thread heap", () => {
  it.effect("is told, with a heap limit smaller than a default thread's by the young generation it is spared", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(NodeSqliteClient.layer({ filename, worker: true }), scope)
      const client = Context.get(context, NodeSqliteClient.NodeSqliteClient)
      yield* client`CREATE TABLE items (id INTEGER PRIMARY KEY)`
      const heap = yield* client.workerHeap
      const plain = yield* defaultThreadLimit
      assert.isDefined(heap)
      assert.isAbove(heap!.used_heap_size, 0)
      assert.isAtLeast(heap!.total_heap_size, heap!.used_heap_size)
      // V8's young generation of a default thread is 192 MB (Node 24); capped at 16 the limit is ~176 MB lower.
      assert.isAtLeast(
        (plain.heap_size_limit - heap!.heap_size_limit) / mb,
        (192 - NodeSqliteClient.workerYoungGenerationMb) * 0.9
      )
      yield* Scope.close(scope, Exit.void)
      assert.isUndefined(yield* client.workerHeap)
    }))

  it.effect("is not told for a database on the caller's thread", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      const client = yield* NodeSqliteClient.NodeSqliteClient.pipe(
        Effect.provide(NodeSqliteClient.layer({ filename }), { local: true })
      )
      assert.isUndefined(yield* client.workerHeap)
    }))
})
