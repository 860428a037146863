/**
 * A finished task's status body is kept (`StatusBodies`) only when its
 * record came from memory (the supervisor's `Tasks.peek`, or the feed's
 * final record), whose object the next read finds again: a record only the
 * store has is a new object at every read, so its body would never be
 * served again — it is encoded and answered, not kept (each such read would
 * otherwise push a useful body out, and the next fast-path read drop it).
 * In front of a stack over the memory store, with the record written to the
 * store directly (finished before this process: not in the supervisor's
 * memory).
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { TaskInfo, TaskStore } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import * as HotReads from "../src/HotReads.ts"
import { TaskRecord, toRecord } from "../src/RestApi.ts"
import { endEvent } from "../src/RestServer.ts"
import { StatusBodies } from "../src/StatusBodies.ts"
import { frontServerWith, get, services, tokens } from "./hotFront.ts"

const encodeRecord = Schema.encodeSync(Schema.toCodecJson(TaskRecord))

/** alice's demo-scan record finished a minute before this process (`at`), as the store alone holds it. */
const finishedBefore = (at: number, overrides: Partial<TaskInfo.TaskInfo>): TaskInfo.TaskInfo =>
  record({
    id: TaskInfo.makeId(at),
    kind: "demo-scan",
    owner: "alice",
    payload: { fromBlock: 1, toBlock: 2, delayMillis: 0 },
    createdAt: at,
    startedAt: at,
    finishedAt: at + 1,
    heartbeatAt: at,
    expiresAt: at + 86_400_000,
    ...overrides
  })

describe("HotReads and a record only the store has", () => {
  // the store the supervisor uses (one layer object: built once), to write a record to it directly
  layer(services(TaskStore.layerMemory).pipe(Layer.provideMerge(TaskStore.layerMemory)), { excludeTestServices: true })((it) => {
    it.effect("is answered with its own body each read, and its body is not kept", () =>
      Effect.gen(function*() {
        const bodies = new StatusBodies()
        const base = yield* frontServerWith(HotReads.makeWith(bodies))
        const store = yield* TaskStore.TaskStore
        const at = Date.now() - 60_000
        const final = finishedBefore(at, { status: "completed", progress: 100, result: 2 })
        yield* Effect.orDie(store.insert(final))
        for (let read = 0; read < 2; read++) {
          const reply = yield* get(`${base}/api/tasks/${final.id}`, { authorization: `Bearer ${tokens.alice}` })
          assert.deepStrictEqual([reply.status, reply.text], [200, JSON.stringify(encodeRecord(toRecord(final)))])
          assert.strictEqual(bodies.size, 0, `a body kept after read ${read + 1}`)
        }
      }))

    it.effect("its event stream is opened through the effects: the record, then the end event", () =>
      Effect.gen(function*() {
        const base = yield* frontServerWith(HotReads.make)
        const store = yield* TaskStore.TaskStore
        const at = Date.now() - 60_000
        const id = TaskInfo.makeId(at)
        yield* Effect.orDie(store.insert(finishedBefore(at, { id, status: "failed", errorMessage: "gone before this process" })))
        const stream = yield* get(`${base}/api/tasks/${id}/events`, { authorization: `Bearer ${tokens.alice}` })
        assert.strictEqual(stream.status, 200)
        assert.strictEqual(stream.headers.get("content-type"), "text/event-stream")
        assert.include(stream.text, `"errorMessage":"gone before this process"`)
        assert.isTrue(stream.text.endsWith(new TextDecoder().decode(endEvent)), stream.text)
      }))
  })
})
