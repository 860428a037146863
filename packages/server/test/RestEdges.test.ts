/**
 * REST behaviour at its edges, beside `RestApi.test.ts`: a page past the
 * last is empty (not the last page again), a full page has a cursor; the
 * submission's options reach the task (priority, retries); a purge by
 * status removes only those; a kind's example is the Schema's when the
 * service has no better one; a request no route serves gets a typed 404
 * naming its path without the query; and a task still running streams its
 * record even to a client that says it saw the end.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { baseUrl, request, sseData, testServer } from "./http.ts"

const quickScan = { fromBlock: 1, toBlock: 1, delayMillis: 0 }

layer(testServer(), { excludeTestServices: true })("REST edges", (it) => {
  it.effect("a page past the last is empty with no cursor; a full page carries the cursor of its last item", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 3; i++) yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: quickScan })
      const all = (yield* request("GET", "/api/tasks?kind=demo-scan&limit=1000")).body
      const total = all.items.length
      assert.isAtLeast(total, 3)
      assert.isNull(all.nextCursor)
      const first = (yield* request("GET", "/api/tasks?kind=demo-scan&limit=1&page=1")).body
      assert.deepStrictEqual([first.page, first.limit, first.items.map((t: any) => t.id)], [1, 1, [all.items[0].id]])
      assert.strictEqual(first.nextCursor, all.items[0].id)
      const last = (yield* request("GET", `/api/tasks?kind=demo-scan&limit=1&page=${total}`)).body
      assert.deepStrictEqual(last.items.map((t: any) => t.id), [all.items[total - 1].id])
      for (const page of [total + 1, total + 5]) {
        const past = yield* request("GET", `/api/tasks?kind=demo-scan&limit=1&page=${page}`)
        assert.strictEqual(past.status, 200)
        assert.deepStrictEqual(past.body, { items: [], page, limit: 1, nextCursor: null })
      }
    }))

  it.effect("the submission's priority and retries reach the task", () =>
    Effect.gen(function*() {
      const prioritized = yield* request("POST", "/api/tasks/demo-scan?priority=7&wait=true", { body: quickScan })
      assert.strictEqual(prioritized.body.priority, 7)
      const retried = yield* request("POST", "/api/tasks/demo-fail?retries=2&wait=true", { body: { steps: 0, delayMillis: 0 } })
      assert.deepStrictEqual([retried.body.status, retried.body.attempt], ["failed", 3])
      const once = yield* request("POST", "/api/tasks/demo-fail?retries=0&wait=true", { body: { steps: 0, delayMillis: 0 } })
      assert.deepStrictEqual([once.body.status, once.body.attempt], ["failed", 1])
    }))

  it.effect("a purge by status removes finished tasks of those statuses only", () =>
    Effect.gen(function*() {
      const completed = (yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: quickScan })).body.id
      const failed = (yield* request("POST", "/api/tasks/demo-fail?wait=true", { body: { steps: 0, delayMillis: 0 } })).body.id
      const purged = yield* request("POST", "/api/purge", { body: { status: ["failed"] } })
      assert.strictEqual(purged.status, 200)
      assert.isAtLeast(purged.body.purged, 1)
      assert.strictEqual((yield* request("GET", `/api/tasks/${failed}`)).status, 404)
      assert.strictEqual((yield* request("GET", `/api/tasks/${completed}`)).status, 200)
      const none = yield* request("GET", "/api/tasks?status=failed")
      assert.deepStrictEqual(none.body.items, [])
    }))

  it.effect("without chains a kind's example is its Schema's first example", () =>
    Effect.gen(function*() {
      const kinds = (yield* request("GET", "/api/kinds")).body
      const example = (name: string) => kinds.find((kind: any) => kind.name === name).example
      assert.deepStrictEqual(example("demo-scan"), { fromBlock: 1, toBlock: 100, delayMillis: 100 })
      assert.deepStrictEqual(example("demo-fail"), { steps: 10, delayMillis: 200 })
    }))

  it.effect("a request no route serves gets 404 RouteNotFound with its method and path, without the query", () =>
    Effect.gen(function*() {
      const missing = yield* request("GET", "/api/nowhere?secret=1")
      assert.strictEqual(missing.status, 404)
      assert.deepStrictEqual(missing.body, { _tag: "RouteNotFound", method: "GET", path: "/api/nowhere" })
      const wrongMethod = yield* request("PATCH", "/api/stats")
      assert.deepStrictEqual([wrongMethod.status, wrongMethod.body], [404, { _tag: "RouteNotFound", method: "PATCH", path: "/api/stats" }])
    }))

  it.effect("a running task's stream is served even to a client that says it saw `end`", () =>
    Effect.gen(function*() {
      const { body } = yield* request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 0, toBlock: 1_000_000, delayMillis: 1000 } })
      const first = yield* Effect.flatMap(baseUrl, (base) =>
        Effect.promise(async () => {
          const controller = new AbortController()
          const response = await fetch(`${base}${body.eventsUrl}`, { headers: { "last-event-id": "end" }, signal: controller.signal })
          const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
          let text = ""
          while (!text.includes("\n\n")) text += (await reader.read()).value ?? ""
          controller.abort()
          return { status: response.status, record: sseData(text)[0] }
        }))
      assert.strictEqual(first.status, 200)
      assert.strictEqual(first.record.id, body.taskId)
      assert.include(["pending", "running"], first.record.status)
      yield* request("POST", `/api/tasks/${body.taskId}/interrupt`)
    }))
})
