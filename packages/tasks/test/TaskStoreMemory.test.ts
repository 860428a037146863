/**
 * The memory store beyond the conformance suite's cases: newest first
 * whatever order the records were inserted in, a page of exactly `limit`
 * records has no next page, purge's time bounds (`finishedBefore` strict,
 * `expiredBy` inclusive, a record without an expiry never expired), a
 * progress update of an unfinished record visible at once, and the refusal
 * of an id inserted twice naming the id.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Option, Schema } from "effect"
import type { TaskInfo } from "../src/TaskInfo.ts"
import { makeMemory } from "../src/TaskStore.ts"
import { record } from "./TaskStoreConformance.ts"

/** `items` in the order `keys` sorts them (a permutation drawn by the property). */
const shuffled = <A>(items: ReadonlyArray<A>, keys: ReadonlyArray<number>) =>
  items.map((item, i) => [keys[i % keys.length] + i / 1000, item] as const).sort((a, b) => a[0] - b[0]).map(([, item]) => item)

const ids = (infos: ReadonlyArray<TaskInfo>) => infos.map((info) => info.id)

describe("TaskStore: memory", () => {
  it.effect.prop(
    "list is newest first whatever the insertion order, and its pages cover every record once",
    {
      count: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 30 })),
      limit: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 12 })),
      keys: Schema.NonEmptyArray(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1000 })))
    },
    ({ count, keys, limit }) =>
      Effect.gen(function*() {
        const store = yield* makeMemory
        const all = Array.from({ length: count }, () => record())
        for (const info of shuffled(all, keys)) yield* store.insert(info)
        const newestFirst = ids(all).reverse()
        assert.deepStrictEqual(ids((yield* store.list({ limit: 1000 })).items), newestFirst)
        const seen: Array<string> = []
        let cursor: string | undefined
        do {
          const page: { readonly items: ReadonlyArray<TaskInfo>; readonly nextCursor: string | null } = yield* store.list(
            cursor === undefined ? { limit } : { limit, cursor }
          )
          seen.push(...ids(page.items))
          // a next page only when records remain past this one
          assert.strictEqual(page.nextCursor === null, seen.length === count)
          if (page.nextCursor !== null) assert.strictEqual(page.nextCursor, seen[seen.length - 1])
          cursor = page.nextCursor ?? undefined
        } while (cursor !== undefined)
        assert.deepStrictEqual(seen, newestFirst)
      })
  )

  it.effect("purge: finishedBefore is strict, expiredBy inclusive, and a record without an expiry never expires", () =>
    Effect.gen(function*() {
      const store = yield* makeMemory
      const at500 = record({ status: "completed", finishedAt: 500, expiresAt: 800 })
      const at499 = record({ status: "completed", finishedAt: 499, expiresAt: 799 })
      const kept = record({ status: "failed", reason: "error", finishedAt: 600, expiresAt: null })
      for (const info of [at500, at499, kept]) yield* store.insert(info)
      assert.deepStrictEqual(ids(yield* store.purge({ finishedBefore: 500 })), [at499.id])
      assert.deepStrictEqual(ids(yield* store.purge({ expiredBy: 799 })), [])
      assert.deepStrictEqual(ids(yield* store.purge({ expiredBy: 800 })), [at500.id])
      assert.deepStrictEqual(ids(yield* store.purge({ expiredBy: Number.MAX_SAFE_INTEGER })), [])
      assert.isTrue(Option.isSome(yield* store.get(kept.id)))
    }))

  it.effect("a progress update of an unfinished record reads back at once, so a listing shows it", () =>
    Effect.gen(function*() {
      const store = yield* makeMemory
      const info = record({ status: "running" })
      yield* store.insert(info)
      yield* store.updateProgress({ ...info, progress: 40, message: "halfway" })
      const read = Option.getOrThrow(yield* store.get(info.id))
      assert.deepStrictEqual([read.progress, read.message], [40, "halfway"])
      assert.deepStrictEqual((yield* store.list({})).items.map((one) => one.progress), [40])
    }))

  it.effect("an id inserted twice is refused, naming the id, alone or in a batch", () =>
    Effect.gen(function*() {
      const store = yield* makeMemory
      const info = record()
      yield* store.insert(info)
      const error = yield* Effect.flip(store.insert(info))
      assert.deepStrictEqual([error.operation, error.detail], ["insert", `task ${info.id} already exists`])
      const [again] = yield* store.insertAll!([info])
      assert.deepStrictEqual([again?.operation, again?.detail], ["insert", `task ${info.id} already exists`])
    }))
})
