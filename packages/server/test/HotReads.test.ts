/**
 * The hot reads (a task's record and its event stream) answered in front of
 * the HttpApi stack: on a real Node server whose stack answers `418 stack`,
 * the lean path answers exactly the two reads it can, checked as the stack
 * checks them, and hands every other request — by its method, path, query,
 * token, or a task that is not found or not the caller's — to the stack; and
 * in the whole service, a hot read answers the bytes the stack answers for
 * the same request (reached there by an extra query parameter).
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Schema } from "effect"
import { TaskError, TaskFeed, TaskInfo, Tasks, TaskStore } from "@chainjobs/tasks"
import { TaskRecord, toRecord } from "../src/RestApi.ts"
import { endEvent } from "../src/RestServer.ts"
import { frontServer, get, services as hotServices, submit, tokens } from "./hotFront.ts"
import { baseUrl, testServer } from "./http.ts"

/** Fault injection: while set, every read of a task from the store fails. */
const storeReads = { failing: false }

/** The memory store, whose reads fail while `storeReads.failing`. */
const faultyStore = Layer.effect(
  TaskStore.TaskStore,
  Effect.map(TaskStore.makeMemory, (store) =>
    TaskStore.TaskStore.of({
      ...store,
      get: (id) =>
        storeReads.failing ? Effect.fail(new TaskError.TaskStoreError({ operation: "get", detail: "injected" })) : store.get(id)
    }))
)

/** Tasks in memory with the demo kinds, their feed, and the service's access rules for alice and bob. */
const services = hotServices(faultyStore)

const encodeRecord = Schema.encodeSync(Schema.toCodecJson(TaskRecord))

/** The hot paths and paths near them (`ID` is the task's id), whole, or as segments of theirs, near misses and any short text. */
const path = Schema.Union([
  Schema.Literals([
    "api/tasks/ID",
    "api/tasks/ID/events",
    "api/tasks/ID/result",
    "api/tasks/ID/events/",
    "api/tasks/ID/",
    "api/tasks/ID/events/x/.."
  ]),
  Schema.Array(Schema.Union([
    Schema.Literals(["api", "tasks", "ID", "events", "result", "", "ID/x", "..", "%"]),
    Schema.String.check(Schema.isMaxLength(6))
  ])).check(Schema.isMaxLength(5))
])

describe("HotReads", () => {
  layer(services, { excludeTestServices: true })("in front of a stack", (it) => {
    it.effect("answers the owner's task and its stream, by header or access_token, and hands the rest to the stack", () =>
      Effect.gen(function*() {
        const base = yield* frontServer
        const tasks = yield* Tasks.Tasks
        const task = yield* submit("alice")
        const final = yield* tasks.awaitInfo(task.id)
        assert.strictEqual(final.status, "completed")
        const bearer = { authorization: `Bearer ${tokens.alice}` }

        const record = yield* get(`${base}/api/tasks/${task.id}`, bearer)
        assert.strictEqual(record.status, 200)
        assert.strictEqual(record.headers.get("content-type"), "application/json")
        assert.strictEqual(record.text, JSON.stringify(encodeRecord(toRecord(final))))
        const byQuery = yield* get(`${base}/api/tasks/${task.id}?access_token=${tokens.alice}`)
        assert.strictEqual(byQuery.text, record.text)

        const stream = yield* get(`${base}/api/tasks/${task.id}/events`, bearer)
        assert.strictEqual(stream.status, 200)
        assert.strictEqual(stream.headers.get("content-type"), "text/event-stream")
        assert.strictEqual(stream.headers.get("cache-control"), "no-cache")
        assert.isTrue(stream.text.endsWith(new TextDecoder().decode(endEvent)), stream.text)
        assert.include(stream.text, `"status":"completed"`)
        const ended = yield* get(`${base}/api/tasks/${task.id}/events`, { ...bearer, "last-event-id": "end" })
        assert.strictEqual(ended.status, 204)

        // What the lean path does not answer itself, the stack answers.
        const stack = [
          yield* get(`${base}/api/tasks/${task.id}`), // no token
          yield* get(`${base}/api/tasks/${task.id}`, { authorization: "Bearer nobody" }),
          yield* get(`${base}/api/tasks/${task.id}`, { authorization: `Bearer ${tokens.bob}` }), // not bob's
          yield* get(`${base}/api/tasks/no-such-task`, bearer),
          yield* get(`${base}/api/tasks/${task.id}?limit=1`, bearer),
          yield* get(`${base}/api/tasks/${task.id}/result`, bearer),
          yield* get(`${base}/api/tasks/${task.id}/events/more`, bearer),
          yield* get(`${base}/api/tasks/${encodeURIComponent(`${task.id}/x`)}`, bearer),
          yield* get(`${base}/api/tasks`, bearer),
          yield* get(`${base}/api/tasks/`, bearer)
        ]
        for (const reply of stack) assert.deepStrictEqual([reply.status, reply.text], [418, "stack"])
        const posted = yield* Effect.promise(() => fetch(`${base}/api/tasks/${task.id}`, { method: "POST", headers: bearer }))
        assert.strictEqual(posted.status, 418)
      }))

    it.effect("a task that has just finished is answered from the feed's final record, without a store read", () =>
      Effect.gen(function*() {
        const base = yield* frontServer
        const tasks = yield* Tasks.Tasks
        const task = yield* submit("alice")
        const final = yield* tasks.awaitInfo(task.id)
        const bearer = { authorization: `Bearer ${tokens.alice}` }
        storeReads.failing = true
        const [record, stream, notOwner] = yield* Effect.ensuring(
          Effect.all([
            get(`${base}/api/tasks/${task.id}`, bearer),
            get(`${base}/api/tasks/${task.id}/events`, bearer),
            get(`${base}/api/tasks/${task.id}`, { authorization: `Bearer ${tokens.bob}` })
          ]),
          Effect.sync(() => {
            storeReads.failing = false
          })
        )
        assert.deepStrictEqual([record.status, record.text], [200, JSON.stringify(encodeRecord(toRecord(final)))])
        assert.strictEqual(stream.status, 200)
        assert.include(stream.text, `"status":"completed"`)
        // Another principal's task is still not its to read: the stack answers.
        assert.strictEqual(notOwner.status, 418)
      }))

    it.effect("a stream follows a running task to its final record and the `end` event, then stops listening", () =>
      Effect.gen(function*() {
        const base = yield* frontServer
        const feed = yield* TaskFeed.TaskFeed
        const task = yield* submit("bob", 50)
        const stream = yield* get(`${base}/api/tasks/${task.id}/events?access_token=${tokens.bob}`)
        const records = stream.text.split("\n\n").filter((frame) => frame.includes("data: ")).map((frame) =>
          JSON.parse(frame.slice(frame.indexOf("data: ") + 6)) as TaskInfo.TaskInfo
        )
        assert.isAbove(records.length, 1, stream.text)
        assert.strictEqual(records[records.length - 1].status, "completed")
        assert.isTrue(records.slice(0, -1).every((record) => !TaskInfo.isTerminal(record.status)), stream.text)
        assert.isTrue(stream.text.endsWith(new TextDecoder().decode(endEvent)))
        assert.strictEqual((yield* feed.stats).task, 0)
      }))

    it.effect.prop(
      "only a GET of an owned task's two hot paths, with no query but the token, is answered in front",
      [Schema.Literals(["GET", "HEAD", "DELETE", "POST"]), path, Schema.Literals(["", "?access_token=", `?access_token=${tokens.alice}`, "?x=1", `?access_token=${tokens.alice}&x=1`])],
      ([method, chosen, query]) =>
        Effect.gen(function*() {
          const segments = typeof chosen === "string" ? chosen.split("/") : chosen
          const base = yield* frontServer
          const task = yield* submit("alice")
          const url = `/${segments.map((segment) => segment === "ID" ? task.id : encodeURIComponent(segment.toWellFormed())).join("/")}${query}`
          // As sent: `fetch` resolves `.` and `..` segments.
          const sent = new URL(base + url).pathname
          const hot = method === "GET" && !query.includes("x=1") &&
            (sent === `/api/tasks/${task.id}` || sent === `/api/tasks/${task.id}/events`)
          const response = yield* Effect.promise(() =>
            fetch(base + url, { method, headers: { authorization: `Bearer ${tokens.alice}` } })
          )
          yield* Effect.promise(() => response.arrayBuffer())
          assert.strictEqual(response.status === 418, !hot, `${method} ${url}: ${response.status}`)
        }),
      { arbitrary: { runs: 60 } }
    )

    it.effect("a running task's stream starts with the event-stream head, before its first (not final) record", () =>
      Effect.gen(function*() {
        const base = yield* frontServer
        const task = yield* submit("bob", 300)
        const stream = yield* get(`${base}/api/tasks/${task.id}/events?access_token=${tokens.bob}`)
        const first = stream.text.split("\n\n").find((frame) => frame.includes("data: "))
        assert.isFalse(first === undefined || first.includes(`"status":"completed"`), stream.text)
        assert.strictEqual(stream.headers.get("content-type"), "text/event-stream")
        assert.strictEqual(stream.headers.get("cache-control"), "no-cache")
      }))
  })
})

layer(testServer(), { excludeTestServices: true })("HotReads in the service", (it) => {
  it.effect("a hot read answers what the stack answers for the same request", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const submitted = yield* Effect.promise(() =>
        fetch(`${base}/api/tasks/demo-scan?wait=true`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ fromBlock: 1, toBlock: 3, delayMillis: 0 })
        }).then((response) => response.json() as Promise<TaskInfo.TaskInfo>)
      )
      // An extra query parameter is not the lean path's: the stack answers it.
      for (const [path, headers] of [
        [`/api/tasks/${submitted.id}`, {}],
        [`/api/tasks/${submitted.id}/events`, {}],
        [`/api/tasks/${submitted.id}/events`, { "last-event-id": "end" }],
        [`/api/tasks/${submitted.id}/events`, { "last-event-id": "x-1" }]
      ] as const) {
        const lean = yield* get(base + path, headers)
        const stack = yield* get(`${base + path}?via=stack`, headers)
        assert.deepStrictEqual(
          [lean.status, [...lean.headers].filter(([name]) => name !== "date"), lean.text],
          [stack.status, [...stack.headers].filter(([name]) => name !== "date"), stack.text],
          path
        )
      }
    }))
})
