import { assert, layer } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { chainjobs } from "./cli.ts"
import { request, testServer } from "./http.ts"

const failure = (exit: Exit.Exit<unknown, unknown>): string => {
  if (!Exit.isFailure(exit)) return ""
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  return reason?._tag === "Fail" ? String((reason.error as any).message) : ""
}

layer(testServer(), { excludeTestServices: true })("chainjobs CLI over RPC", (it) => {
  it.effect("submit --watch draws progress, prints the result and succeeds when the task completes", () =>
    Effect.gen(function*() {
      const { exit, lines } = yield* chainjobs("submit", "demo-scan", "--payload", '{"fromBlock":1,"toBlock":4,"delayMillis":20}', "--watch")
      assert.isTrue(Exit.isSuccess(exit))
      const id = lines[0]
      assert.match(id, /^[0-9a-f-]{36}$/)
      const bars = lines.filter((line) => line.startsWith("["))
      assert.include(bars[bars.length - 1], "100% completed")
      const percents = bars.map((line) => Number(/(\d+)%/.exec(line)?.[1]))
      assert.deepStrictEqual([...percents].sort((a, b) => a - b), percents)
      assert.deepStrictEqual(JSON.parse(lines.slice(lines.indexOf(bars[bars.length - 1]) + 1).join("\n")), { blocks: 4, transfers: 4 })
      const record = yield* request("GET", `/api/tasks/${id}`)
      assert.strictEqual(record.body.status, "completed")
    }))

  it.effect("submit --watch fails with the task's error when the task fails", () =>
    Effect.gen(function*() {
      const { exit } = yield* chainjobs("submit", "demo-fail", "--payload", '{"steps":1,"delayMillis":0}', "--watch")
      assert.isTrue(Exit.isFailure(exit))
      assert.include(failure(exit), "failed: DemoError: gave up after 1 steps")
    }))

  it.effect("submit refuses a payload that is not JSON, and one its kind rejects", () =>
    Effect.gen(function*() {
      assert.include(failure((yield* chainjobs("submit", "demo-scan", "--payload", "{oops")).exit), "--payload is not JSON")
      assert.include(failure((yield* chainjobs("submit", "demo-scan", "--payload", "{}")).exit), "invalid payload")
    }))

  it.effect("status, list and interrupt look after tasks; purge deletes finished ones", () =>
    Effect.gen(function*() {
      const submitted = yield* chainjobs("submit", "demo-scan", "--payload", '{"fromBlock":0,"toBlock":1000000,"delayMillis":1000}')
      const id = submitted.lines[0]
      const status = yield* chainjobs("status", id)
      assert.strictEqual(JSON.parse(status.lines.join("\n")).id, id)
      const interrupted = yield* chainjobs("interrupt", id)
      assert.match(interrupted.lines[0], new RegExp(`^${id}\\s+demo-scan\\s+interrupted`))
      const listed = yield* chainjobs("list", "--status", "interrupted", "--kind", "demo-scan")
      assert.isTrue(listed.lines.some((line) => line.startsWith(id)))
      assert.isTrue(listed.lines.every((line) => line.includes("interrupted")))
      const purged = yield* chainjobs("purge")
      assert.match(purged.lines[0], /^purged [1-9]\d* finished tasks$/)
      assert.include(failure((yield* chainjobs("status", id)).exit), `no task with id ${id}`)
    }))
})
