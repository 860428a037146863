import { assert, describe, it, layer } from "@effect/vitest"
import { TaskAccessError } from "@chainjobs/tasks"
import { Effect, Option, Redacted } from "effect"
import { retryAfter } from "../src/RestServer.ts"
import { baseUrl, request, sseData, testServer } from "./http.ts"

const quickScan = { fromBlock: 1, toBlock: 3, delayMillis: 0 }
/** Runs until interrupted, for all a test cares. */
const endlessScan = { fromBlock: 0, toBlock: 1_000_000, delayMillis: 1000 }

layer(testServer(), { excludeTestServices: true })("REST facade", (it) => {
  it.effect("a submission answers 202 with the URLs to follow the task", () =>
    Effect.gen(function*() {
      const reply = yield* request("POST", "/api/tasks/demo-scan", { body: quickScan })
      assert.strictEqual(reply.status, 202)
      const id: string = reply.body.taskId
      assert.deepStrictEqual(reply.body, {
        taskId: id,
        kind: "demo-scan",
        status: "pending",
        statusUrl: `/api/tasks/${id}`,
        resultUrl: `/api/tasks/${id}/result`,
        eventsUrl: `/api/tasks/${id}/events`
      })
      const status = yield* request("GET", reply.body.statusUrl)
      assert.strictEqual(status.status, 200)
      assert.strictEqual(status.body.id, id)
      assert.strictEqual(status.body.owner, "anonymous")
    }))

  it.effect("?wait=true runs the task synchronously and answers with its final record", () =>
    Effect.gen(function*() {
      const reply = yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: quickScan })
      assert.strictEqual(reply.status, 200)
      assert.strictEqual(reply.body.status, "completed")
      assert.strictEqual(reply.body.progress, 100)
      assert.deepStrictEqual(reply.body.result, { blocks: 3, transfers: 3 })
      const result = yield* request("GET", `/api/tasks/${reply.body.id}/result`)
      assert.strictEqual(result.status, 200)
      assert.deepStrictEqual(result.body, {
        taskId: reply.body.id,
        status: "completed",
        result: { blocks: 3, transfers: 3 },
        completedAt: reply.body.finishedAt
      })
    }))

  it.effect("a failed task's result is a 409 carrying the kind's typed error", () =>
    Effect.gen(function*() {
      const done = yield* request("POST", "/api/tasks/demo-fail?wait=true", { body: { steps: 1, delayMillis: 0 } })
      assert.strictEqual(done.body.status, "failed")
      const result = yield* request("GET", `/api/tasks/${done.body.id}/result`)
      assert.strictEqual(result.status, 409)
      assert.strictEqual(result.body._tag, "TaskFailed")
      assert.strictEqual(result.body.reason, "error")
      assert.deepStrictEqual(result.body.error, { _tag: "DemoError", message: "gave up after 1 steps, as asked" })
    }))

  it.effect("a running task's result is a 202; interrupting it returns its final record", () =>
    Effect.gen(function*() {
      const { body } = yield* request("POST", "/api/tasks/demo-scan", { body: endlessScan })
      const early = yield* request("GET", body.resultUrl)
      assert.strictEqual(early.status, 202)
      assert.include(["pending", "running"], early.body.status)
      const interrupted = yield* request("POST", `/api/tasks/${body.taskId}/interrupt`)
      assert.strictEqual(interrupted.status, 200)
      assert.strictEqual(interrupted.body.status, "interrupted")
      const late = yield* request("GET", body.resultUrl)
      assert.strictEqual(late.status, 409)
      assert.strictEqual(late.body.status, "interrupted")
    }))

  it.effect("bad input gets a typed 4xx naming the problem", () =>
    Effect.gen(function*() {
      const invalid = yield* request("POST", "/api/tasks/demo-scan", { body: { fromBlock: "one", toBlock: 2, delayMillis: 0 } })
      assert.strictEqual(invalid.status, 400)
      assert.strictEqual(invalid.body._tag, "InvalidPayload")
      assert.deepStrictEqual(invalid.body.issues.map((issue: any) => issue.path), [["fromBlock"]])
      const unknownKind = yield* request("POST", "/api/tasks/no-such-kind", { body: {} })
      assert.strictEqual(unknownKind.status, 404)
      assert.strictEqual(unknownKind.body._tag, "UnknownTaskKind")
      const missing = yield* request("GET", "/api/tasks/no-such-task")
      assert.strictEqual(missing.status, 404)
      assert.strictEqual(missing.body._tag, "TaskNotFound")
      const badStatus = yield* request("GET", "/api/tasks?status=sleeping")
      assert.strictEqual(badStatus.status, 400)
      assert.strictEqual(badStatus.body._tag, "BadRequest")
      assert.strictEqual(badStatus.body.part, "Query")
      assert.include(badStatus.body.message, "status")
      const badLimit = yield* request("GET", "/api/tasks?limit=0")
      assert.strictEqual(badLimit.status, 400)
      assert.include(badLimit.body.message, "limit")
      const malformed = yield* Effect.flatMap(baseUrl, (base) =>
        Effect.promise(() =>
          fetch(`${base}/api/tasks/demo-scan`, { method: "POST", headers: { "content-type": "application/json" }, body: "{oops" })
            .then(async (r) => ({ status: r.status, body: await r.json() as any }))
        ))
      assert.strictEqual(malformed.status, 400)
      assert.strictEqual(malformed.body.part, "Payload")
    }))

  it.effect("listing filters by status and kind and pages newest first", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 3; i++) yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: quickScan })
      const all = yield* request("GET", "/api/tasks?status=completed&kind=demo-scan&limit=1000")
      assert.isAtLeast(all.body.items.length, 3)
      assert.isTrue(all.body.items.every((task: any) => task.status === "completed" && task.kind === "demo-scan"))
      const ids = all.body.items.map((task: any) => task.id)
      assert.deepStrictEqual([...ids].sort().reverse(), ids)
      const page2 = yield* request("GET", "/api/tasks?status=completed&kind=demo-scan&page=2&limit=2")
      assert.strictEqual(page2.body.page, 2)
      assert.deepStrictEqual(page2.body.items.map((task: any) => task.id), ids.slice(2, 4))
      const byCursor = yield* request("GET", `/api/tasks?status=completed&kind=demo-scan&limit=2&cursor=${ids[1]}`)
      assert.deepStrictEqual(byCursor.body.items.map((task: any) => task.id), ids.slice(2, 4))
      const none = yield* request("GET", "/api/tasks?kind=demo-fail&status=completed")
      assert.deepStrictEqual(none.body.items, [])
    }))

  it.effect("deleting a task removes its record", () =>
    Effect.gen(function*() {
      const { body } = yield* request("POST", "/api/tasks/demo-scan", { body: endlessScan })
      const deleted = yield* request("DELETE", `/api/tasks/${body.taskId}`)
      assert.strictEqual(deleted.status, 204)
      const gone = yield* request("GET", `/api/tasks/${body.taskId}`)
      assert.strictEqual(gone.status, 404)
    }))

  it.effect("a task's events are server-sent, progress climbing, ending at its terminal record", () =>
    Effect.gen(function*() {
      const { body } = yield* request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 1, toBlock: 5, delayMillis: 20 } })
      const events = yield* request("GET", body.eventsUrl)
      assert.strictEqual(events.status, 200)
      assert.include(events.contentType, "text/event-stream")
      const records = sseData(events.text)
      assert.isTrue(records.every((record) => record.id === body.taskId))
      const progress = records.map((record) => record.progress)
      assert.deepStrictEqual([...progress].sort((a, b) => a - b), progress)
      assert.strictEqual(records[records.length - 1].status, "completed")
      const missing = yield* request("GET", "/api/tasks/nope/events")
      assert.strictEqual(missing.status, 404)
    }))

  it.effect("purging deletes finished tasks only", () =>
    Effect.gen(function*() {
      const running = yield* request("POST", "/api/tasks/demo-scan", { body: endlessScan })
      const purged = yield* request("POST", "/api/purge", { body: {} })
      assert.isAtLeast(purged.body.purged, 1)
      const left = yield* request("GET", "/api/tasks?limit=1000")
      assert.isTrue(left.body.items.every((task: any) => task.status === "pending" || task.status === "running"))
      yield* request("DELETE", `/api/tasks/${running.body.taskId}`)
    }))

  it.effect("kinds are listed with their payload schemas and an example", () =>
    Effect.gen(function*() {
      const kinds = yield* request("GET", "/api/kinds")
      const names = kinds.body.map((kind: any) => kind.name).sort()
      assert.deepStrictEqual(names, ["demo-fail", "demo-scan"])
      const scan = kinds.body.find((kind: any) => kind.name === "demo-scan")
      assert.deepStrictEqual(Object.keys(scan.payloadSchema.schema.properties).sort(), ["delayMillis", "fromBlock", "toBlock"])
      assert.deepStrictEqual(scan.payloadSchema.schema.examples, [{ fromBlock: 1, toBlock: 100, delayMillis: 100 }])
    }))

  it.effect("the OpenAPI document and an offline docs page are served", () =>
    Effect.gen(function*() {
      const openapi = yield* request("GET", "/openapi.json")
      assert.strictEqual(openapi.status, 200)
      assert.include(Object.keys(openapi.body.paths), "/api/tasks/demo-scan")
      assert.include(Object.keys(openapi.body.paths), "/api/tasks/{id}/events")
      const docs = yield* request("GET", "/docs")
      assert.strictEqual(docs.status, 200)
      assert.include(docs.contentType, "text/html")
      assert.notMatch(docs.text, /<script[^>]+src="https?:/)
    }))

  it.effect("probes answer while the service accepts tasks", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual((yield* request("GET", "/healthz")).body, { status: "ok" })
      assert.deepStrictEqual((yield* request("GET", "/readyz")).body, { status: "ready" })
    }))
})

describe("REST facade with auth tokens", () => {
  const settings = {
    authTokens: { alice: Redacted.make("alice-token"), bob: Redacted.make("bob-token"), ops: Redacted.make("ops-token") },
    admins: ["ops"]
  }
  layer(testServer(settings), { excludeTestServices: true })("tokens", (it) => {
    it.effect("requests without a known bearer token are refused with 401", () =>
      Effect.gen(function*() {
        const anonymous = yield* request("POST", "/api/tasks/demo-scan", { body: quickScan })
        assert.strictEqual(anonymous.status, 401)
        assert.deepStrictEqual(anonymous.body, { _tag: "Unauthenticated", credential: "missing-token" })
        const wrong = yield* request("GET", "/api/tasks", { token: "guess" })
        assert.strictEqual(wrong.status, 401)
        assert.strictEqual((yield* request("GET", "/healthz")).status, 200)
      }))

    it.effect("a known token acts as its principal, from the header or the access_token parameter", () =>
      Effect.gen(function*() {
        const accepted = yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: quickScan, token: "alice-token" })
        assert.strictEqual(accepted.status, 200)
        assert.strictEqual(accepted.body.owner, "alice")
        const byQuery = yield* request("GET", `/api/tasks/${accepted.body.id}?access_token=alice-token`)
        assert.strictEqual(byQuery.status, 200)
      }))

    it.effect("a principal sees and controls only its own tasks (another's is not found); an admin sees all and alone purges", () =>
      Effect.gen(function*() {
        const mine = yield* request("POST", "/api/tasks/demo-scan", { body: endlessScan, token: "alice-token" })
        const id = mine.body.taskId
        const peek = yield* request("GET", `/api/tasks/${id}`, { token: "bob-token" })
        assert.strictEqual(peek.status, 404)
        assert.strictEqual(peek.body._tag, "TaskNotFound")
        assert.strictEqual((yield* request("POST", `/api/tasks/${id}/interrupt`, { token: "bob-token" })).status, 404)
        const bobs = yield* request("GET", "/api/tasks?limit=1000", { token: "bob-token" })
        assert.isFalse(bobs.body.items.some((task: any) => task.id === id))
        const all = yield* request("GET", "/api/tasks?limit=1000", { token: "ops-token" })
        assert.isTrue(all.body.items.some((task: any) => task.id === id))
        const notAdmin = yield* request("POST", "/api/purge", { body: {}, token: "alice-token" })
        assert.strictEqual(notAdmin.status, 403)
        assert.deepStrictEqual(notAdmin.body, { _tag: "Forbidden", principal: "alice", operation: "purge" })
        const stopped = yield* request("POST", `/api/tasks/${id}/interrupt`, { token: "ops-token" })
        assert.strictEqual(stopped.body.status, "interrupted")
        const purged = yield* request("POST", "/api/purge", { body: {}, token: "ops-token" })
        assert.strictEqual(purged.status, 200)
        assert.isAtLeast(purged.body.purged, 1)
      }))
  })
})

/**
 * Five quick submissions to `path`: they hold three within one one-second window, whatever the clock, so at least
 * one is refused; every answer is a 202 or a 429. Answers the refused ones.
 */
const pastTheQuota = (path: string) =>
  Effect.gen(function*() {
    const replies = []
    for (let i = 0; i < 5; i++) replies.push(yield* request("POST", path, { body: quickScan }))
    const refused = replies.filter((reply) => reply.status === 429)
    assert.isAtLeast(refused.length, 1)
    assert.isTrue(replies.every((reply) => reply.status === 202 || reply.status === 429))
    return refused
  })

describe("REST facade with a submission quota", () => {
  layer(testServer({ submitLimit: 2, submitBurst: Option.some(2) }), { excludeTestServices: true })("quota", (it) => {
    it.effect("submissions past the principal's quota are refused with 429 and Retry-After, and counted; invalid ones use none", () =>
      Effect.gen(function*() {
        const refused = yield* pastTheQuota("/api/tasks/demo-scan")
        assert.strictEqual(refused[0].body._tag, "QuotaExceeded")
        assert.strictEqual(refused[0].body.principal, "anonymous")
        assert.strictEqual(refused[0].body.limit, 2)
        assert.strictEqual(refused[0].headers.get("retry-after"), String(Math.ceil(refused[0].body.retryAfterMillis / 1000)))
        assert.isAtLeast(Number(refused[0].headers.get("retry-after")), 1)
        const metrics = yield* request("GET", "/metrics")
        const counted = /chainjobs_submissions_rate_limited_total\{principal="anonymous"\} (\d+)/.exec(metrics.text)
        assert.strictEqual(Number(counted?.[1]), refused.length)
      }))

    it.effect("a submission the stack answers (one with options) is refused past the quota with 429 and Retry-After too", () =>
      Effect.gen(function*() {
        // `?priority=` keeps the submission off the lean path (`HotSubmit`): the REST handler answers it.
        const refused = yield* pastTheQuota("/api/tasks/demo-scan?priority=1")
        assert.deepInclude(refused[0].body, { _tag: "QuotaExceeded", principal: "anonymous", limit: 2 })
        assert.strictEqual(refused[0].headers.get("retry-after"), String(Math.ceil(refused[0].body.retryAfterMillis / 1000)))
      }))
  })

  it("Retry-After is the wait in whole seconds, rounded up, at least 1, for a quota of any window", () => {
    // The service's own quota is per second (a wait of at most 1 s): a longer window's refusal waits longer.
    const waiting = (retryAfterMillis: number) =>
      retryAfter(new TaskAccessError.QuotaExceeded({ principal: "alice", limit: 1, windowMillis: 60_000, retryAfterMillis }))
    assert.deepStrictEqual([1, 999, 1000, 1001, 2500, 60_000].map(waiting), ["1", "1", "1", "2", "3", "60"])
  })
})
