/**
 * A purge limited by age keeps the tasks that finished more recently, through
 * the REST API (`olderThanMillis`) and the CLI (`--older-than-seconds`); a
 * purge without the limit deletes them.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { chainjobs } from "./cli.ts"
import { request, testServer } from "./http.ts"

/** Runs a quick task to completion; returns its id. */
const finishedTask = Effect.gen(function*() {
  const done = yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: { fromBlock: 1, toBlock: 2, delayMillis: 0 } })
  assert.strictEqual(done.body.status, "completed")
  return done.body.id as string
})

const hour = 60 * 60

layer(testServer(), { excludeTestServices: true })("purging finished tasks by age", (it) => {
  it.effect("REST: olderThanMillis keeps a task finished just now; without it the task goes", () =>
    Effect.gen(function*() {
      const id = yield* finishedTask
      const kept = yield* request("POST", "/api/purge", { body: { olderThanMillis: hour * 1000 } })
      assert.strictEqual(kept.status, 200)
      assert.strictEqual(kept.body.purged, 0)
      assert.strictEqual((yield* request("GET", `/api/tasks/${id}`)).status, 200)
      const purged = yield* request("POST", "/api/purge", { body: { olderThanMillis: 0 } })
      assert.isAtLeast(purged.body.purged, 1)
      assert.strictEqual((yield* request("GET", `/api/tasks/${id}`)).status, 404)
    }))

  it.effect("CLI: --older-than-seconds keeps a task finished just now; without it the task goes", () =>
    Effect.gen(function*() {
      const id = yield* finishedTask
      const kept = yield* chainjobs("purge", "--older-than-seconds", String(hour))
      assert.isTrue(Exit.isSuccess(kept.exit))
      assert.deepStrictEqual(kept.lines, ["purged 0 finished tasks"])
      assert.isTrue(Exit.isSuccess((yield* chainjobs("status", id)).exit))
      const purged = yield* chainjobs("purge")
      assert.match(purged.lines[0], /^purged [1-9]\d* finished tasks$/)
      assert.isTrue(Exit.isFailure((yield* chainjobs("status", id)).exit))
    }))
})
