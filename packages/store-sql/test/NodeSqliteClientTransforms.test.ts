/**
 * A connection reserved from the client (`SqlClient.reserve`) takes a row
 * transform with each statement, as `effect/sql`'s `Connection` promises:
 * rows read prepared, unprepared or as a stream come back through it. The
 * client's own statements never pass one (it is made without
 * `transformRows`), so only a caller of the connection reaches these paths.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"

/** A transform that marks each row, so that a row passed on untransformed shows. */
const marked = <A extends object>(rows: ReadonlyArray<A>): ReadonlyArray<A> => rows.map((row) => ({ ...row, marked: true }))

describe("NodeSqliteClient's reserved connection", () => {
  it.effect("applies a caller's row transform to prepared, unprepared and streamed rows", () =>
    Effect.gen(function*() {
      const client = yield* NodeSqliteClient.NodeSqliteClient
      yield* client`CREATE TABLE items (id INTEGER PRIMARY KEY)`
      yield* client`INSERT INTO items (id) VALUES (1), (2)`
      const connection = yield* client.reserve
      const sql = "SELECT id FROM items ORDER BY id"
      const expected = [{ id: 1, marked: true }, { id: 2, marked: true }]
      assert.deepStrictEqual(yield* connection.execute(sql, [], marked), expected)
      assert.deepStrictEqual(yield* connection.executeUnprepared(sql, [], marked), expected)
      assert.deepStrictEqual(Array.from(yield* Stream.runCollect(connection.executeStream(sql, [], marked))), expected)
      // Without a transform the rows are the database's own.
      assert.deepStrictEqual(Array.from(yield* Stream.runCollect(connection.executeStream(sql, [], undefined))), [{ id: 1 }, { id: 2 }])
    }).pipe(Effect.scoped, Effect.provide(NodeSqliteClient.layer({ filename: ":memory:" }))))
})
