/**
 * How the store's list queries run on SQLite: a list filtered by status,
 * kind or owner walks that filter's index in id order, with neither a scan
 * of the table nor a sort, so a keyset page costs the same however deep it
 * is. The statements are the ones the store runs (taken from its spans),
 * planned with `EXPLAIN QUERY PLAN`.
 */
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { TaskQuery, TaskStore } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import { statementsOf } from "./statementTexts.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"


const filtered: ReadonlyArray<readonly [string, TaskQuery.TaskQuery]> = [
  ["status", { status: ["running"] }],
  ["kind", { kind: ["transfer"], cursor: "00000000-0000-7000-8000-000000000010" }],
  ["owner", { owner: "alice", limit: 10 }]
]

describe("SqlTaskStore query plans on SQLite", () => {
  it.effect("a list filtered by status, kind or owner walks that filter's index in id order: no scan, no sort; one of completed records walks the primary key", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.TaskStore
      const sql = yield* SqlClient.SqlClient
      for (let n = 0; n < 20; n++) yield* store.insert(record({ kind: n % 2 === 0 ? "transfer" : "scan", owner: n % 3 === 0 ? "alice" : null }))
      yield* sql`ANALYZE`
      for (const [filter, query] of filtered) {
        const [text] = yield* statementsOf(store.list(query))
        const parameters = Array((text.match(/\?/g) ?? []).length).fill("x")
        const plan = (yield* sql.unsafe<{ detail: string }>(`EXPLAIN QUERY PLAN ${text}`, parameters)).map((row) => row.detail)
        assert.lengthOf(plan, 1, `${filter}: ${plan.join(" | ")}`)
        assert.match(plan[0], new RegExp(`^SEARCH chainjobs_tasks USING (COVERING )?INDEX chainjobs_tasks_${filter} `), filter)
      }
      // The status index leaves completed records out: a list of them (most of the table) walks the primary key
      // in id order instead, still without a sort.
      const [completed] = yield* statementsOf(store.list({ status: ["completed"] }))
      const parameters = Array((completed.match(/\?/g) ?? []).length).fill("x")
      const plan = (yield* sql.unsafe<{ detail: string }>(`EXPLAIN QUERY PLAN ${completed}`, parameters)).map((row) => row.detail)
      assert.deepStrictEqual(plan, ["SCAN chainjobs_tasks USING INDEX sqlite_autoindex_chainjobs_tasks_1"])
    }).pipe(
      Effect.provide(
        Layer.unwrap(Effect.map(tempDatabaseFile, (filename) =>
          SqlTaskStore.layer().pipe(Layer.provideMerge(NodeSqliteClient.layer({ filename }))))),
        { local: true }
      )
    ))
})
