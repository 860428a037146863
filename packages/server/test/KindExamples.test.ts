/**
 * Every kind's example, as `/api/kinds` gives it (and the dashboard's submit
 * form fills it in), runs as it stands on the dev chain: each completes,
 * except `chain/follow-head`, which follows the chain until interrupted.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { request, testServer } from "./http.ts"

layer(testServer({ devChain: true }), { excludeTestServices: true, timeout: "60 seconds" })("kind examples", (it) => {
  it.effect("every registered kind has an example, and each runs on the dev chain", () =>
    Effect.gen(function*() {
      const kinds: ReadonlyArray<{ name: string; example?: unknown }> = (yield* request("GET", "/api/kinds")).body
      assert.includeMembers(kinds.map((kind) => kind.name), ["demo-scan", "chain/scan-addresses", "chain/broadcast"])
      const outcomes: Record<string, unknown> = {}
      for (const kind of kinds) {
        assert.isDefined(kind.example, `${kind.name} has an example`)
        if (kind.name === "chain/follow-head") {
          const followed = yield* request("POST", `/api/tasks/${kind.name}`, { body: kind.example })
          assert.strictEqual(followed.status, 202, followed.text)
          const stopped = yield* request("POST", `/api/tasks/${followed.body.taskId}/interrupt`)
          outcomes[kind.name] = stopped.body.status
          continue
        }
        const ran = yield* request("POST", `/api/tasks/${kind.name}?wait=true`, { body: kind.example })
        outcomes[kind.name] = ran.status === 200 ? ran.body.status === "completed" || ran.body.errorMessage : ran.text
        // The examples are the seeded ones: the scan finds the seeded transfers, the sync the token's.
        if (kind.name === "chain/scan-addresses") assert.include(JSON.stringify(ran.body.result), "transactionHash")
        if (kind.name === "chain/sync-events") assert.isAbove(ran.body.result.counts.Transfer ?? 0, 0)
      }
      const expected: Record<string, unknown> = Object.fromEntries(kinds.map((kind) => [kind.name, true]))
      expected["demo-fail"] = "DemoError: gave up after 10 steps, as asked"
      expected["chain/follow-head"] = "interrupted"
      assert.deepStrictEqual(outcomes, expected)
    }), { timeout: 60_000 })
})
