/**
 * Pages and purges of the SQL store at their edges, on SQLite and
 * PostgreSQL: a list holding exactly `limit` records has no next page, a
 * purge filtered by status removes finished records of those statuses only,
 * and a submission's own limits (a retry cap above zero, a timeout of one
 * millisecond, a heartbeat timeout past 32 bits) read back as written; a
 * purge by finishing time keeps what finished at that time or later.
 */
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { TaskStore } from "@chainjobs/tasks"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import * as SqlTaskStore from "../src/SqlTaskStore.ts"
import { pgTestStore, pgTestUrl } from "./pgTestDatabase.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"

const edges = (name: string, store: Layer.Layer<TaskStore.TaskStore, unknown>) => {
  it.effect(`${name}: a list of exactly limit records has no next page; one more has`, () =>
    Effect.gen(function*() {
      const tasks = yield* TaskStore.TaskStore
      for (let n = 0; n < 3; n++) yield* tasks.insert(record())
      const exact = yield* tasks.list({ limit: 3 })
      assert.strictEqual(exact.items.length, 3)
      assert.isNull(exact.nextCursor)
      yield* tasks.insert(record())
      const more = yield* tasks.list({ limit: 3 })
      assert.strictEqual(more.items.length, 3)
      assert.strictEqual(more.nextCursor, more.items[2].id)
    }).pipe(Effect.provide(store)))

  it.effect(`${name}: a purge by status removes finished records of those statuses only`, () =>
    Effect.gen(function*() {
      const tasks = yield* TaskStore.TaskStore
      const finished = { finishedAt: 1, startedAt: 1 }
      const completed = record({ status: "completed", ...finished })
      const failed = record({ status: "failed", ...finished })
      const interrupted = record({ status: "interrupted", ...finished })
      const running = record({ status: "running", startedAt: 1 })
      for (const info of [completed, failed, interrupted, running]) yield* tasks.insert(info)
      assert.deepStrictEqual((yield* tasks.purge({ status: ["failed", "running"] })).map((info) => info.id), [failed.id])
      const left = (yield* tasks.list({})).items.map((info) => info.id).sort()
      assert.deepStrictEqual(left, [completed.id, interrupted.id, running.id].sort())
      assert.isTrue(Option.isNone(yield* tasks.get(failed.id)))
    }).pipe(Effect.provide(store)))

  it.effect(`${name}: a submission's own limits read back whatever their size, and stay through a state change`, () =>
    Effect.gen(function*() {
      const tasks = yield* TaskStore.TaskStore
      const limited = record({ retries: 3, timeoutMillis: 1, heartbeatTimeoutMillis: 2 ** 40 })
      yield* tasks.insert(limited)
      assert.deepStrictEqual(Option.getOrThrow(yield* tasks.get(limited.id)), limited)
      const running = { ...limited, status: "running" as const, startedAt: 5, attempt: 2 }
      yield* tasks.update(running)
      assert.deepStrictEqual(Option.getOrThrow(yield* tasks.get(limited.id)), running)
    }).pipe(Effect.provide(store)))

  it.effect(`${name}: a purge of records finished before a time keeps those finished at it or later`, () =>
    Effect.gen(function*() {
      const tasks = yield* TaskStore.TaskStore
      const finishedAt = (at: number) => record({ status: "completed", startedAt: 1, finishedAt: at })
      const [early, atLimit, late] = [finishedAt(100), finishedAt(500), finishedAt(900)]
      for (const info of [early, atLimit, late]) yield* tasks.insert(info)
      assert.deepStrictEqual((yield* tasks.purge({ finishedBefore: 500 })).map((info) => info.id), [early.id])
      const left = (yield* tasks.list({})).items.map((info) => info.id).sort()
      assert.deepStrictEqual(left, [atLimit.id, late.id].sort())
    }).pipe(Effect.provide(store)))
}

describe("SQL store edges", () => {
  edges("SQLite", Layer.unwrap(Effect.map(tempDatabaseFile, (filename) => SqlTaskStore.layerSqlite({ filename }))))
  if (pgTestUrl !== undefined) edges("PostgreSQL", pgTestStore)
})
