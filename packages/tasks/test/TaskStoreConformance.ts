/**
 * The behaviour every `TaskStore` must show. A store implementation runs it
 * with its own layer: `storeConformance("sqlite", layer)`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { TaskStore } from "../src/TaskStore.ts"
import type { TaskInfo } from "../src/TaskInfo.ts"

let sequence = 0
/** A record with defaults, ids increasing in creation order like the supervisor's. */
export const record = (overrides: Partial<TaskInfo> = {}): TaskInfo => {
  sequence++
  return {
    id: `00000000-0000-7000-8000-${sequence.toString().padStart(12, "0")}-${Math.random().toString(36).slice(2, 8)}`,
    kind: "noop",
    status: "pending",
    reason: null,
    priority: 0,
    key: null,
    owner: null,
    attempt: 1,
    progress: 0,
    message: null,
    detail: null,
    payload: { n: sequence },
    result: null,
    error: null,
    errorMessage: null,
    checkpoint: null,
    createdAt: 1_000 + sequence,
    startedAt: null,
    finishedAt: null,
    heartbeatAt: null,
    expiresAt: null,
    ...overrides
  }
}

/** Runs the conformance suite against a store layer; each test gets a fresh store. */
export const storeConformance = <E>(name: string, layer: Layer.Layer<TaskStore, E>) =>
  describe(`TaskStore conformance: ${name}`, () => {
    const test = (title: string, body: (store: TaskStore["Service"]) => Effect.Effect<void, unknown>) =>
      it.effect(title, () =>
        Effect.gen(function*() {
          const store = yield* TaskStore
          yield* body(store)
        }).pipe(Effect.provide(layer, { local: true })), 60_000)

    test("inserted records read back equal, nested payloads included", (store) =>
      Effect.gen(function*() {
        const info = record({ payload: { addresses: ["0xab", "0xcd"], range: { from: 1, to: 2 } }, key: "k", owner: "alice" })
        yield* store.insert(info)
        const read = yield* store.get(info.id)
        assert.deepStrictEqual(Option.getOrThrow(read), info)
      }))

    test("a submission's time limits read back, through updates, and a record without them has none", (store) =>
      Effect.gen(function*() {
        const limited = record({ timeoutMillis: 90_000, heartbeatTimeoutMillis: 5_000, retries: 0 })
        const plain = record()
        yield* store.insert(limited)
        yield* store.insert(plain)
        yield* store.update({ ...limited, status: "running", startedAt: 5, heartbeatAt: 5 })
        const read = Option.getOrThrow(yield* store.get(limited.id))
        assert.deepStrictEqual([read.timeoutMillis, read.heartbeatTimeoutMillis, read.retries, read.status], [90_000, 5_000, 0, "running"])
        const unfinished = yield* store.unfinished
        assert.strictEqual(unfinished.find((info) => info.id === limited.id)?.timeoutMillis, 90_000)
        const readPlain = Option.getOrThrow(yield* store.get(plain.id))
        assert.isFalse("timeoutMillis" in readPlain || "heartbeatTimeoutMillis" in readPlain || "retries" in readPlain)
      }))

    test("the runner of a record reads back as written, moves with an update, and stays absent when not given", (store) =>
      Effect.gen(function*() {
        const info = record({ runner: "127.0.0.1:34431" })
        yield* store.insert(info)
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(info.id)), info)
        const moved = { ...info, status: "running" as const, attempt: 2, runner: "127.0.0.1:34432" }
        yield* store.update(moved)
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(info.id)), moved)
        assert.deepStrictEqual((yield* store.list({ status: ["running"] })).items.find((item) => item.id === info.id), moved)
        const plain = record()
        yield* store.insert(plain)
        assert.isFalse("runner" in Option.getOrThrow(yield* store.get(plain.id)))
      }))

    test("an unknown id reads as none and removes as false", (store) =>
      Effect.gen(function*() {
        assert.isTrue(Option.isNone(yield* store.get("no-such-id")))
        assert.isFalse(yield* store.remove("no-such-id"))
      }))

    test("inserting an existing id fails and keeps the first record", (store) =>
      Effect.gen(function*() {
        const info = record()
        yield* store.insert(info)
        const second = yield* store.insert({ ...info, kind: "other" }).pipe(Effect.flip)
        assert.strictEqual(second._tag, "TaskStoreError")
        assert.strictEqual(Option.getOrThrow(yield* store.get(info.id)).kind, "noop")
      }))

    test("insertAll stores every new record; an existing id and an id repeated in the call are refused alone", (store) =>
      Effect.gen(function*() {
        const insertAll = store.insertAll
        if (insertAll === undefined) return
        const existing = record()
        yield* store.insert(existing)
        const fresh = Array.from({ length: 700 }, () => record({ payload: { list: [1, 2, 3] } }))
        const repeated = { ...fresh[3], kind: "other" }
        const outcome = yield* insertAll([...fresh.slice(0, 500), { ...existing, kind: "other" }, repeated, ...fresh.slice(500)])
        assert.strictEqual(outcome.length, 702)
        const refused = outcome.flatMap((error, i) => error === undefined ? [] : [i])
        assert.deepStrictEqual(refused, [500, 501])
        assert.strictEqual(outcome[500]?._tag, "TaskStoreError")
        for (const info of [existing, ...fresh]) assert.deepStrictEqual(Option.getOrThrow(yield* store.get(info.id)), info)
      }))

    test("updateAll overwrites every record it is given, one result per record; of an id given twice the last wins", (store) =>
      Effect.gen(function*() {
        const updateAll = store.updateAll
        if (updateAll === undefined) return
        const running = Array.from({ length: 700 }, (_, i) => record({ status: "running", startedAt: 5, heartbeatAt: 5, payload: { i } }))
        yield* Effect.forEach(running, store.insert, { concurrency: "unbounded", discard: true })
        const done = running.map((info, i) => ({
          ...info,
          status: i % 7 === 0 ? "pending" as const : "completed" as const,
          attempt: i % 7 === 0 ? 2 : 1,
          result: i % 7 === 0 ? null : { i, list: [i, "x"] },
          finishedAt: i % 7 === 0 ? null : 9,
          expiresAt: i % 7 === 0 ? null : 100
        }))
        const latest = { ...done[3], result: "latest" }
        const outcome = yield* updateAll([...done, latest])
        assert.deepStrictEqual(outcome, Array(701).fill(undefined))
        for (const info of done) {
          assert.deepStrictEqual(Option.getOrThrow(yield* store.get(info.id)), info.id === latest.id ? latest : info)
        }
      }))

    test("updates overwrite state, result, error and checkpoint", (store) =>
      Effect.gen(function*() {
        const info = record()
        yield* store.insert(info)
        const running = { ...info, status: "running" as const, startedAt: 5, heartbeatAt: 5, checkpoint: { block: 7 } }
        yield* store.update(running)
        yield* store.updateProgress({ ...running, progress: 40, message: "halfway", detail: { blocks: [1, 2] }, heartbeatAt: 6 })
        const done = {
          ...running,
          status: "failed" as const,
          reason: "error" as const,
          progress: 40,
          message: "halfway",
          detail: { blocks: [1, 2] },
          error: { _tag: "Boom", detail: [1, 2] },
          errorMessage: "Boom",
          finishedAt: 9,
          expiresAt: 100
        }
        yield* store.update(done)
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(info.id)), done)
      }))

    test("a progress update is visible after the next state change", (store) =>
      Effect.gen(function*() {
        const info = record({ status: "running" })
        yield* store.insert(info)
        yield* store.updateProgress({ ...info, progress: 10 })
        yield* store.updateProgress({ ...info, progress: 70, message: "latest" })
        yield* store.update({ ...info, progress: 70, message: "latest", status: "completed", finishedAt: 3, result: 1 })
        const read = Option.getOrThrow(yield* store.get(info.id))
        assert.strictEqual(read.progress, 70)
        assert.strictEqual(read.status, "completed")
      }))

    test("a late progress update never overwrites a finished record", (store) =>
      Effect.gen(function*() {
        const info = record({ status: "running" })
        yield* store.insert(info)
        const done = { ...info, status: "completed" as const, finishedAt: 3, result: "ok", progress: 100 }
        yield* store.update(done)
        yield* store.updateProgress({ ...info, progress: 50, message: "late" })
        // a durable write queued after the progress: a store that batches has written the progress once it returns
        yield* store.insert(record())
        assert.deepStrictEqual(Option.getOrThrow(yield* store.get(info.id)), done)
      }))

    test("list filters by status, kind, owner and time, newest first", (store) =>
      Effect.gen(function*() {
        const a = record({ kind: "scan", owner: "alice", status: "completed", createdAt: 10 })
        const b = record({ kind: "scan", owner: "bob", status: "running", createdAt: 20 })
        const c = record({ kind: "sync", owner: "alice", status: "running", createdAt: 30 })
        for (const info of [a, b, c]) yield* store.insert(info)
        const ids = (page: { items: ReadonlyArray<TaskInfo> }) => page.items.map((info) => info.id)
        assert.deepStrictEqual(ids(yield* store.list({})), [c.id, b.id, a.id])
        assert.deepStrictEqual(ids(yield* store.list({ status: ["running"] })), [c.id, b.id])
        assert.deepStrictEqual(ids(yield* store.list({ kind: ["scan"] })), [b.id, a.id])
        assert.deepStrictEqual(ids(yield* store.list({ owner: "alice" })), [c.id, a.id])
        assert.deepStrictEqual(ids(yield* store.list({ createdAfter: 20 })), [c.id, b.id])
        assert.deepStrictEqual(ids(yield* store.list({ createdBefore: 20 })), [a.id])
        assert.deepStrictEqual(ids(yield* store.list({ status: ["running", "completed"], kind: ["scan"], owner: "bob" })), [b.id])
      }))

    test("count tells how many records match by status, as list would find them", (store) =>
      Effect.gen(function*() {
        const statuses = ["pending", "running", "completed", "failed", "interrupted"] as const
        const all = Array.from({ length: 40 }, (_, i) =>
          record({ kind: i % 3 === 0 ? "scan" : "sync", owner: i % 2 === 0 ? "alice" : "bob", status: statuses[(i * 7) % 5], createdAt: i }))
        for (const info of all) yield* store.insert(info)
        const queries = [{}, { kind: ["scan"] }, { owner: "bob" }, { status: ["failed" as const], kind: ["sync"] }, { createdAfter: 25 }, { kind: [] }]
        for (const query of queries) {
          const listed = yield* store.list({ ...query, limit: 1000 })
          const expected = { pending: 0, running: 0, completed: 0, failed: 0, interrupted: 0 }
          for (const info of listed.items) expected[info.status]++
          assert.deepStrictEqual(yield* store.count({ ...query, limit: 1, cursor: all[39].id }), expected, JSON.stringify(query))
        }
      }))

    test("keyset pagination visits every record once, in order", (store) =>
      Effect.gen(function*() {
        const all = Array.from({ length: 23 }, () => record())
        for (const info of all) yield* store.insert(info)
        const seen: Array<string> = []
        let cursor: string | undefined = undefined
        let pages = 0
        do {
          const page: { items: ReadonlyArray<TaskInfo>; nextCursor: string | null } = yield* store.list(
            cursor === undefined ? { limit: 5 } : { limit: 5, cursor }
          )
          assert.isAtMost(page.items.length, 5)
          seen.push(...page.items.map((info) => info.id))
          cursor = page.nextCursor ?? undefined
          pages++
        } while (cursor !== undefined)
        assert.strictEqual(pages, 5)
        assert.deepStrictEqual(seen, all.map((info) => info.id).reverse())
      }))

    test("remove deletes one record", (store) =>
      Effect.gen(function*() {
        const info = record()
        yield* store.insert(info)
        assert.isTrue(yield* store.remove(info.id))
        assert.isTrue(Option.isNone(yield* store.get(info.id)))
      }))

    test("purge removes only finished records matching the filter", (store) =>
      Effect.gen(function*() {
        const old = record({ status: "completed", finishedAt: 100, expiresAt: 200 })
        const oldFailed = record({ status: "failed", reason: "error", finishedAt: 100, expiresAt: 200 })
        const recent = record({ status: "completed", finishedAt: 900, expiresAt: 1_000 })
        const running = record({ status: "running", startedAt: 50 })
        for (const info of [old, oldFailed, recent, running]) yield* store.insert(info)
        // the purged records come back as they stood
        assert.deepStrictEqual(yield* store.purge({ finishedBefore: 500, status: ["failed"] }), [oldFailed])
        assert.isTrue(Option.isNone(yield* store.get(oldFailed.id)))
        assert.deepStrictEqual(yield* store.purge({ expiredBy: 200 }), [old])
        assert.isTrue(Option.isNone(yield* store.get(old.id)))
        assert.deepStrictEqual(yield* store.purge({ status: [] }), [])
        assert.deepStrictEqual(yield* store.purge({}), [recent])
        assert.isTrue(Option.isSome(yield* store.get(running.id)))
        assert.isTrue(Option.isNone(yield* store.get(recent.id)))
      }))

    test("unfinished lists pending and running records, oldest first", (store) =>
      Effect.gen(function*() {
        const p = record({ status: "pending" })
        const r = record({ status: "running" })
        const c = record({ status: "completed", finishedAt: 1 })
        for (const info of [p, r, c]) yield* store.insert(info)
        assert.deepStrictEqual((yield* store.unfinished).map((info) => info.id), [p.id, r.id])
      }))

    test("concurrent writers lose no state change", (store) =>
      Effect.gen(function*() {
        const all = Array.from({ length: 200 }, () => record())
        yield* Effect.forEach(all, (info) => store.insert(info), { concurrency: "unbounded", discard: true })
        yield* Effect.forEach(all, (info) => store.update({ ...info, status: "completed", finishedAt: 1, result: info.id }), {
          concurrency: "unbounded",
          discard: true
        })
        const page = yield* store.list({ status: ["completed"], limit: 1000 })
        assert.strictEqual(page.items.length, 200)
        for (const info of page.items) assert.strictEqual(info.result, info.id)
      }))

    test("unfinished is oldest first, and a page newest first, whatever order the records were written in", (store) =>
      Effect.gen(function*() {
        const oldestFirst = [record(), record({ status: "running" }), record(), record({ status: "running" }), record()]
        for (const info of oldestFirst.toReversed()) yield* store.insert(info)
        assert.deepStrictEqual((yield* store.unfinished).map((info) => info.id), oldestFirst.map((info) => info.id))
        // and a page of them newest first, though written oldest first
        const written = [record(), record(), record(), record(), record()]
        for (const info of written) yield* store.insert(info)
        const page = yield* store.list({ limit: 5 })
        assert.deepStrictEqual(page.items.map((info) => info.id), written.toReversed().map((info) => info.id))
      }))
  })
