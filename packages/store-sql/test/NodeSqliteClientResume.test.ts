/**
 * On a worker thread, a statement's fiber goes on in a task of its
 * scheduler, not inside the callback that brings the thread's reply: a fiber
 * resumed there runs there, with every fiber it wakes, out of reach of a
 * scheduler that bounds each turn's work (the service's `TurnScheduler`).
 * Seen through a scheduler that marks the tasks it runs: after every kind of
 * statement (a plain one, a prepared one read as values, a transaction,
 * `transact`, a failed one) the fiber is inside one of its tasks.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Scheduler } from "effect"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"
import { TaskMarking } from "../../../testing/taskMarking.ts"

describe("NodeSqliteClient on a worker thread, resumed", () => {
  it.effect("after each statement its fiber runs in a task of its scheduler, not in the reply's callback", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      const scheduler = new TaskMarking()
      const statements = Effect.gen(function*() {
        const client = yield* NodeSqliteClient.NodeSqliteClient
        const seen: Array<readonly [string, boolean]> = []
        const mark = (what: string) => seen.push([what, scheduler.inTask])
        yield* client`CREATE TABLE items (id INTEGER PRIMARY KEY)`
        mark("create")
        for (const id of [1, 2, 3]) {
          yield* client`INSERT INTO items (id) VALUES (${id})`
          mark(`insert ${id}`)
        }
        yield* client`SELECT id FROM items`.values
        mark("values")
        yield* client.withTransaction(client`UPDATE items SET id = id + 10`)
        mark("transaction")
        yield* client.transact([{ sql: "DELETE FROM items WHERE id = ?", params: [11] }])
        mark("transact")
        yield* Effect.flip(client`INSERT INTO items (id) VALUES (12)`)
        mark("failed")
        return seen
      }).pipe(Effect.provide(NodeSqliteClient.layer({ filename, worker: true }), { local: true }))
      // A fiber of its own, so that every task of it is the marking scheduler's.
      const fiber = yield* Effect.forkChild(statements).pipe(Effect.provideService(Scheduler.Scheduler, scheduler))
      const seen = yield* Fiber.join(fiber)
      assert.deepStrictEqual(seen.filter(([, inTask]) => !inTask).map(([what]) => what), [], "resumed outside a task")
      assert.strictEqual(seen.length, 8)
    }), 60_000)
})
