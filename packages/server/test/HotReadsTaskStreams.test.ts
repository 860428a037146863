/**
 * The hot reads' task streams under the principal's `maxTaskStreams` (1
 * here), in front of a stack that answers `418 stack`: a stream opened in the
 * request's callback (a task the supervisor runs) and one opened through the
 * effects (a record only the store has) both take the principal's slot; a
 * principal with no slot free is not served on the lean path but passed on
 * to the stack (which, in the service, answers 429 `TooManyTaskStreams`);
 * another principal is served; a stream whose client goes, or that ends,
 * gives its slot back.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TaskAccess, TaskInfo, TaskStore } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { endEvent } from "../src/RestServer.ts"
import { frontServer, get, services, submit, tokens } from "./hotFront.ts"
import { openEvents } from "./http.ts"

/** alice's demo-scan record finished a minute before this process, as the store alone holds it. */
const finishedBefore = (at: number): TaskInfo.TaskInfo =>
  record({
    id: TaskInfo.makeId(at),
    kind: "demo-scan",
    owner: "alice",
    payload: { fromBlock: 1, toBlock: 2, delayMillis: 0 },
    status: "completed",
    progress: 100,
    result: 2,
    createdAt: at,
    startedAt: at,
    finishedAt: at + 1,
    heartbeatAt: at,
    expiresAt: at + 86_400_000
  })

const asAlice = { authorization: `Bearer ${tokens.alice}` }

describe("HotReads' task streams under maxTaskStreams 1", () => {
  layer(services(TaskStore.layerMemory, { maxTaskStreams: 1 }).pipe(Layer.provideMerge(TaskStore.layerMemory)), {
    excludeTestServices: true
  })((it) => {
    it.effect("inline and through the effects a stream takes the slot; with none free the read goes on to the stack; another principal is served; an ended stream gives it back", () =>
      Effect.gen(function*() {
        const base = yield* frontServer
        const access = yield* TaskAccess.TaskAccess
        const store = yield* TaskStore.TaskStore
        const running = yield* submit("alice", 60_000)
        const bobs = yield* submit("bob", 60_000)
        const stored = finishedBefore(Date.now() - 60_000)
        yield* Effect.orDie(store.insert(stored))
        // Inline: a task the supervisor runs.
        const held = yield* Effect.promise(() => openEvents(`${base}/api/tasks/${running.id}/events`, { headers: asAlice }))
        assert.strictEqual(held.status, 200)
        yield* Effect.promise(() => held.until((event) => event?.id === running.id))
        assert.strictEqual(access.taskStreams.held("alice"), 1)
        // No slot free: a second stream of the running task (inline) and the stored one's (through the effects) go on to the stack.
        const again = yield* get(`${base}/api/tasks/${running.id}/events`, asAlice)
        assert.deepStrictEqual([again.status, again.text], [418, "stack"])
        const throughEffects = yield* get(`${base}/api/tasks/${stored.id}/events`, asAlice)
        assert.deepStrictEqual([throughEffects.status, throughEffects.text], [418, "stack"])
        assert.strictEqual(access.taskStreams.held("alice"), 1, "the refused reads took no slot")
        // Bob's slot is his own.
        const bob = yield* Effect.promise(() => openEvents(`${base}/api/tasks/${bobs.id}/events`, { headers: { authorization: `Bearer ${tokens.bob}` } }))
        assert.strictEqual(bob.status, 200)
        // The client gone, its slot comes back (once the server has seen it go).
        held.close()
        for (let attempt = 0; attempt < 1000 && access.taskStreams.held("alice") > 0; attempt++) yield* Effect.sleep("20 millis")
        assert.strictEqual(access.taskStreams.held("alice"), 0, "the slot of a client gone was given back")
        // Through the effects, admitted now: the record, then the end event; ended, it gives its slot back.
        const stream = yield* get(`${base}/api/tasks/${stored.id}/events`, asAlice)
        assert.strictEqual(stream.status, 200)
        assert.isTrue(stream.text.endsWith(new TextDecoder().decode(endEvent)), stream.text)
        for (let attempt = 0; attempt < 1000 && access.taskStreams.held("alice") > 0; attempt++) yield* Effect.sleep("20 millis")
        assert.strictEqual(access.taskStreams.held("alice"), 0, "the slot of an ended stream was given back")
        bob.close()
      }), 60_000)
  })
})

