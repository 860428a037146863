import { assert, describe, layer } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { chainjobs } from "./cli.ts"
import { request, testServer } from "./http.ts"

describe("a submission's time limits and retries over REST and the CLI", () => {
  layer(testServer(), { excludeTestServices: true })("service", (it) => {
    it.effect("?timeoutMillis= times the task out under the kind's limits and is recorded; a bad value is a 400 and records nothing", () =>
      Effect.gen(function*() {
        const timedOut = yield* request("POST", "/api/tasks/demo-scan?wait=true&timeoutMillis=200&heartbeatTimeoutMillis=60000&retries=0", {
          // 2 s of steps without the limit: a limit left out fails here at once instead of waiting out a long task
          body: { fromBlock: 1, toBlock: 20, delayMillis: 100 }
        })
        assert.strictEqual(timedOut.status, 200)
        assert.deepInclude(timedOut.body, { status: "failed", reason: "timeout", timeoutMillis: 200, heartbeatTimeoutMillis: 60000, retries: 0 })
        const before = (yield* request("GET", "/api/tasks")).body.items.length
        for (const query of ["timeoutMillis=0", "timeoutMillis=-5", "timeoutMillis=1.5", "heartbeatTimeoutMillis=soon", "retries=-1", "retries=1001"]) {
          const refused = yield* request("POST", `/api/tasks/demo-scan?${query}`, { body: { fromBlock: 1, toBlock: 2 } })
          assert.strictEqual(refused.status, 400, query)
          assert.deepInclude(refused.body, { _tag: "BadRequest", part: "Query" })
        }
        assert.strictEqual((yield* request("GET", "/api/tasks")).body.items.length, before)
      }))

    it.effect("chainjobs submit --timeout-millis / --heartbeat-timeout-millis / --retries reach the record", () =>
      Effect.gen(function*() {
        const submitted = yield* chainjobs(
          "submit", "demo-scan", "--payload", '{"fromBlock":1,"toBlock":2,"delayMillis":1}', "--timeout-millis", "90000", "--heartbeat-timeout-millis", "30000",
          "--retries", "3"
        )
        assert.isTrue(Exit.isSuccess(submitted.exit))
        const record = yield* request("GET", `/api/tasks/${submitted.lines[0]}`)
        assert.deepInclude(record.body, { timeoutMillis: 90000, heartbeatTimeoutMillis: 30000, retries: 3 })
      }))
  })
})
