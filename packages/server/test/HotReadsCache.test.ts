/**
 * The kept status bodies of finished tasks (`StatusBodies`, read by
 * `HotReads` in the request's own callback), over a real SQLite file: in the
 * whole service, a task deleted by id or purged answers 404 at the next
 * read, never its kept body, and another principal asking for a task whose
 * body is kept gets the answer for a missing task; in front of a stack, the
 * kept bodies stay within their capacity however many finished tasks are
 * read, each read still answering its task's own record, and a task the
 * supervisor no longer holds drops its kept body at its next read; and a deleted
 * task is not answered from a final record the feed still holds (it learns
 * of a deletion a turn or more after the supervisor).
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { TaskFeed, type TaskInfo, Tasks } from "@chainjobs/tasks"
import * as HotReads from "../src/HotReads.ts"
import { TaskRecord, toRecord } from "../src/RestApi.ts"
import { StatusBodies } from "../src/StatusBodies.ts"
import { frontServerWith, get, services, submit, tokens } from "./hotFront.ts"
import { request, testServer } from "./http.ts"

const encodeRecord = Schema.encodeSync(Schema.toCodecJson(TaskRecord))

/** A fresh directory for a SQLite file, removed when the layer is released. */
const scratch = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  const removed = Layer.effectDiscard(Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))))
  return { dir, removed }
}

const service = scratch("chainjobs-hot-cache-")
const settings = {
  dataDir: service.dir,
  authTokens: { alice: Redacted.make("alice-token"), bob: Redacted.make("bob-token"), ops: Redacted.make("ops-token") },
  admins: ["ops"]
}

/** Submits a demo scan as `token`'s principal and waits for its final record (`?wait=true`). */
const finished = (token: string) =>
  Effect.map(
    request("POST", "/api/tasks/demo-scan?wait=true", { token, body: { fromBlock: 1, toBlock: 2, delayMillis: 0 } }),
    (reply) => {
      assert.strictEqual(reply.status, 200, reply.text)
      return reply.body as { readonly id: string; readonly status: string }
    }
  )

describe("HotReads' kept status bodies", () => {
  layer(Layer.provideMerge(testServer(settings), service.removed), { excludeTestServices: true })("in the service", (it) => {
    it.effect("a task deleted or purged answers 404 at the next read, not its kept body", () =>
      Effect.gen(function*() {
        const deleted = yield* finished("alice-token")
        const purged = yield* finished("alice-token")
        for (const task of [deleted, purged]) {
          // Read twice: the second answer is the kept body.
          for (let read = 0; read < 2; read++) {
            const reply = yield* request("GET", `/api/tasks/${task.id}`, { token: "alice-token" })
            assert.deepStrictEqual([reply.status, reply.body.status], [200, "completed"])
          }
        }
        assert.strictEqual((yield* request("DELETE", `/api/tasks/${deleted.id}`, { token: "alice-token" })).status, 204)
        const afterDelete = yield* request("GET", `/api/tasks/${deleted.id}`, { token: "alice-token" })
        assert.deepStrictEqual([afterDelete.status, afterDelete.body._tag], [404, "TaskNotFound"], afterDelete.text)

        const purge = yield* request("POST", "/api/purge", { token: "ops-token", body: { status: ["completed"] } })
        assert.strictEqual(purge.status, 200, purge.text)
        assert.isAtLeast(purge.body.purged, 1)
        const afterPurge = yield* request("GET", `/api/tasks/${purged.id}`, { token: "alice-token" })
        assert.deepStrictEqual([afterPurge.status, afterPurge.body._tag], [404, "TaskNotFound"], afterPurge.text)
      }))

    it.effect("another principal asking for a task whose body is kept is answered as for a missing task", () =>
      Effect.gen(function*() {
        const task = yield* finished("alice-token")
        const own = yield* request("GET", `/api/tasks/${task.id}`, { token: "alice-token" })
        assert.strictEqual(own.status, 200)
        const kept = yield* request("GET", `/api/tasks/${task.id}`, { token: "alice-token" })
        assert.strictEqual(kept.text, own.text)
        const foreign = yield* request("GET", `/api/tasks/${task.id}`, { token: "bob-token" })
        const missing = yield* request("GET", "/api/tasks/no-such-task", { token: "bob-token" })
        assert.deepStrictEqual([foreign.status, foreign.body], [404, { ...missing.body, id: task.id }], foreign.text)
        // The admin sees it, the same body.
        assert.strictEqual((yield* request("GET", `/api/tasks/${task.id}`, { token: "ops-token" })).text, own.text)
      }))
  })

  const front = scratch("chainjobs-hot-bound-")
  const onSqlite = services(Layer.orDie(SqlTaskStore.layerSqlite({ filename: join(front.dir, "tasks.db") }))).pipe(
    Layer.provideMerge(front.removed)
  )
  layer(onSqlite, { excludeTestServices: true })("in front of a stack", (it) => {
    it.effect("the kept bodies stay within their capacity, each read answering its own task's record", () =>
      Effect.gen(function*() {
        const capacity = 3
        const bodies = new StatusBodies(capacity)
        const base = yield* frontServerWith(HotReads.makeWith(bodies))
        const tasks = yield* Tasks.Tasks
        const bearer = { authorization: `Bearer ${tokens.alice}` }
        const finals = []
        for (let n = 0; n < 8; n++) finals.push(yield* tasks.awaitInfo((yield* submit("alice")).id))
        // Each read twice, then the first ones again, pushed out by then.
        for (const final of [...finals, ...finals, ...finals.slice(0, 2)]) {
          const reply = yield* get(`${base}/api/tasks/${final.id}`, bearer)
          assert.deepStrictEqual([reply.status, reply.text], [200, JSON.stringify(encodeRecord(toRecord(final)))])
          assert.isAtMost(bodies.size, capacity)
        }
        assert.strictEqual(bodies.size, capacity)
      }))

    it.effect("a task the supervisor no longer holds drops its kept body at its next read", () =>
      Effect.gen(function*() {
        const bodies = new StatusBodies()
        const base = yield* frontServerWith(HotReads.makeWith(bodies))
        const tasks = yield* Tasks.Tasks
        const final = yield* tasks.awaitInfo((yield* submit("alice")).id)
        const url = `${base}/api/tasks/${final.id}`
        const bearer = { authorization: `Bearer ${tokens.alice}` }
        assert.strictEqual((yield* get(url, bearer)).status, 200)
        assert.strictEqual(bodies.size, 1)
        yield* tasks.delete(final.id)
        const gone = yield* get(url, bearer)
        assert.deepStrictEqual([gone.status, gone.text], [418, "stack"])
        // Not served again (its record is gone), and not held until other bodies push it out.
        assert.strictEqual(bodies.size, 0)
      }))

    it.effect("a deleted task is not answered from a final record the feed still holds", () =>
      Effect.gen(function*() {
        // Fault injection: a feed that has not heard of the deletion yet still holds the final record.
        const lagging = new Map<string, TaskInfo.TaskInfo>()
        const base = yield* frontServerWith(Effect.provideServiceEffect(
          HotReads.make,
          TaskFeed.TaskFeed,
          Effect.map(TaskFeed.TaskFeed, (feed) => TaskFeed.TaskFeed.of({ ...feed, final: (id) => lagging.get(id) ?? feed.final(id) }))
        ))
        const tasks = yield* Tasks.Tasks
        const final = yield* tasks.awaitInfo((yield* submit("alice")).id)
        const bearer = { authorization: `Bearer ${tokens.alice}` }
        assert.strictEqual((yield* get(`${base}/api/tasks/${final.id}`, bearer)).status, 200)
        lagging.set(final.id, final)
        yield* tasks.delete(final.id)
        for (const path of [`/api/tasks/${final.id}`, `/api/tasks/${final.id}/events`]) {
          const reply = yield* get(base + path, bearer)
          // Not found: the stack answers it (404 there).
          assert.deepStrictEqual([reply.status, reply.text], [418, "stack"], path)
        }
      }))
  })
})
