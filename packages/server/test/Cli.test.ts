import { assert, describe, it, layer } from "@effect/vitest"
import { NodeServices } from "@effect/platform-node"
import * as Cli from "../src/Cli.ts"
import { Console, Effect, Exit, Redacted } from "effect"
import { chainjobs } from "./cli.ts"
import { baseUrl, request, testServer } from "./http.ts"

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
      const status = yield* chainjobs("status", id, "--json")
      assert.strictEqual(JSON.parse(status.lines.join("\n")).id, id)
      const interrupted = yield* chainjobs("interrupt", id)
      assert.match(interrupted.lines[0], new RegExp(`^${id}\\s+demo-scan\\s+interrupted`))
      const listed = yield* chainjobs("list", "--status", "interrupted", "--kind", "demo-scan")
      assert.isTrue(listed.lines.some((line) => line.startsWith(id)))
      assert.match(listed.lines[0], /^ID\s+KIND\s+STATUS\s+PROGRESS\s+CREATED\s+MESSAGE$/)
      assert.isTrue(listed.lines.slice(1).every((line) => line.includes("interrupted")))
      const purged = yield* chainjobs("purge")
      assert.match(purged.lines[0], /^purged [1-9]\d* finished tasks$/)
      assert.include(failure((yield* chainjobs("status", id)).exit), `no task with id ${id}`)
    }))

  it.effect("status prints the record for a person, times in ISO 8601; result prints a completed task's result", () =>
    Effect.gen(function*() {
      const submitted = yield* chainjobs("submit", "demo-scan", "--payload", '{"fromBlock":1,"toBlock":2,"delayMillis":0}', "--watch")
      const id = submitted.lines[0]
      const status = yield* chainjobs("status", id)
      assert.include(status.lines, "status    completed")
      for (const field of ["created", "started", "finished"]) {
        const line = status.lines.find((line) => line.startsWith(field))
        assert.match(line ?? "", /^\w+\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      }
      assert.strictEqual(JSON.parse((yield* chainjobs("result", id, "--json")).lines[0]).blocks, 2)
      const running = yield* chainjobs("submit", "demo-scan", "--payload", '{"fromBlock":0,"toBlock":1000000,"delayMillis":1000}')
      assert.include(failure((yield* chainjobs("result", running.lines[0])).exit), `chainjobs watch ${running.lines[0]}`)
      yield* chainjobs("delete", running.lines[0])
    }))

  it.effect("list prints a header and a hint for the next page", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 3; i++) yield* chainjobs("submit", "demo-fail", "--payload", '{"steps":1,"delayMillis":0}', "--watch")
      const first = yield* chainjobs("list", "--kind", "demo-fail", "--limit", "2")
      assert.strictEqual(first.lines.length, 4)
      const hint = /^more: chainjobs list --kind demo-fail --limit 2 --cursor (\S+)$/.exec(first.lines[3])
      assert.isNotNull(hint)
      const next = yield* chainjobs("list", "--kind", "demo-fail", "--limit", "2", "--cursor", hint![1], "--json")
      const page = JSON.parse(next.lines.join("\n"))
      assert.isAbove(page.items.length, 0)
      assert.notInclude(first.lines.slice(1, 3).map((line) => line.split(" ")[0]), page.items[0].id)
    }))

  it.effect("kinds lists the registered kinds with an example; watch follows a task; retry submits it again; delete removes it", () =>
    Effect.gen(function*() {
      const kinds = yield* chainjobs("kinds")
      assert.match(kinds.lines.find((line) => line.startsWith("demo-scan")) ?? "", /e\.g\. --payload '\{"fromBlock":1/)
      assert.deepStrictEqual(JSON.parse((yield* chainjobs("kinds", "--json")).lines.join("\n")).map((k: any) => k.name).sort(), [
        "demo-fail",
        "demo-scan"
      ])
      const id = (yield* chainjobs("submit", "demo-scan", "--payload", '{"fromBlock":1,"toBlock":3,"delayMillis":10}')).lines[0]
      const watched = yield* chainjobs("watch", id)
      assert.isTrue(Exit.isSuccess(watched.exit))
      assert.include(watched.lines.filter((line) => line.startsWith("[")).at(-1), "100% completed")
      const retried = yield* chainjobs("retry", id, "--watch")
      assert.isTrue(Exit.isSuccess(retried.exit))
      assert.notStrictEqual(retried.lines[0], id)
      const again = yield* request("GET", `/api/tasks/${retried.lines[0]}`)
      assert.deepStrictEqual(again.body.payload, { fromBlock: 1, toBlock: 3, delayMillis: 10 })
      assert.strictEqual(again.body.status, "completed")
      assert.deepStrictEqual((yield* chainjobs("delete", id)).lines, [`deleted ${id}`])
      assert.strictEqual((yield* request("GET", `/api/tasks/${id}`)).status, 404)
    }))

  it.effect("submit's overrides reach the task: time limits, retries; retry submits again without following unless asked", () =>
    Effect.gen(function*() {
      const submitted = yield* chainjobs(
        "submit", "demo-scan", "--payload", '{"fromBlock":1,"toBlock":2,"delayMillis":0}',
        "--timeout-millis", "60000", "--heartbeat-timeout-millis", "30000", "--retries", "2", "--watch"
      )
      assert.isTrue(Exit.isSuccess(submitted.exit), failure(submitted.exit))
      const record = (yield* request("GET", `/api/tasks/${submitted.lines[0]}`)).body
      assert.deepInclude(record, { timeoutMillis: 60000, heartbeatTimeoutMillis: 30000, retries: 2 })
      // Without --watch, retry prints the new task's id alone and returns.
      const retried = yield* chainjobs("retry", submitted.lines[0])
      assert.isTrue(Exit.isSuccess(retried.exit))
      assert.strictEqual(retried.lines.length, 1)
      assert.match(retried.lines[0], /^[0-9a-f-]{36}$/)
      assert.notStrictEqual(retried.lines[0], submitted.lines[0])
    }))

  it.effect("result of a task that did not complete names how it ended; a server's refusal is told as it is", () =>
    Effect.gen(function*() {
      const failed = yield* chainjobs("submit", "demo-fail", "--payload", '{"steps":1,"delayMillis":0}', "--watch")
      const id = failed.lines[0]
      assert.match(failure((yield* chainjobs("result", id)).exit), new RegExp(`^task ${id} failed: DemoError: gave up after 1 steps`))
      const running = (yield* chainjobs("submit", "demo-scan", "--payload", '{"fromBlock":0,"toBlock":1000000,"delayMillis":1000}')).lines[0]
      yield* chainjobs("interrupt", running)
      const interrupted = (yield* request("GET", `/api/tasks/${running}`)).body
      assert.strictEqual(
        failure((yield* chainjobs("result", running)).exit),
        `task ${running} interrupted: ${interrupted.errorMessage ?? "interrupted"}`
      )
      // The server answered: its refusal is the message, not a transport failure.
      assert.strictEqual(failure((yield* chainjobs("status", "no-such-task")).exit).startsWith("cannot reach"), false)
      assert.match(failure((yield* chainjobs("status", "no-such-task")).exit), /no task with id no-such-task/)
    }))

  it.effect("list passes its filters to the server, says when nothing matched, and hints at a next page only when there is one", () =>
    Effect.gen(function*() {
      const failed = (yield* chainjobs("submit", "demo-fail", "--payload", '{"steps":1,"delayMillis":0}', "--watch")).lines[0]
      const listed = yield* chainjobs("list", "--status", "failed", "--kind", "demo-fail", "--limit", "100")
      assert.isTrue(listed.lines.slice(1).some((line) => line.startsWith(failed)))
      for (const line of listed.lines.slice(1)) assert.match(line, /^\S+\s+demo-fail\s+failed \(error\)/)
      assert.isFalse(listed.lines.some((line) => line.startsWith("more:")), listed.lines.join("\n"))
      assert.deepStrictEqual((yield* chainjobs("list", "--kind", "no-such-kind")).lines, ["no tasks"])
      assert.deepStrictEqual((yield* chainjobs("list", "--status", "running", "--kind", "demo-fail")).lines, ["no tasks"])
      const first = yield* chainjobs("list", "--status", "failed", "--kind", "demo-fail", "--limit", "1")
      const more = first.lines.find((line) => line.startsWith("more:")) ?? ""
      assert.match(more, /^more: chainjobs list --status failed --kind demo-fail --limit 1 --cursor \S+$/)
    }))
})

describe("chainjobs CLI without a server", () => {
  it.effect("an unreachable server is named with the cause", () =>
    Effect.gen(function*() {
      const exit = yield* Cli.run(["--url", "http://127.0.0.1:9", "list"]).pipe(Effect.provide(NodeServices.layer), Effect.exit)
      assert.match(failure(exit), /^cannot reach the server at http:\/\/127\.0\.0\.1:9: connect ECONNREFUSED 127\.0\.0\.1:9$/)
      const kinds = yield* Cli.run(["--url", "http://127.0.0.1:9", "kinds"]).pipe(Effect.provide(NodeServices.layer), Effect.exit)
      assert.match(failure(kinds), /^cannot reach the server at http:\/\/127\.0\.0\.1:9: connect ECONNREFUSED 127\.0\.0\.1:9$/)
    }))
})

describe("chainjobs CLI with the server's auth on", () => {
  layer(testServer({ authTokens: { alice: Redacted.make("alice-token") } }), { excludeTestServices: true })("tokens", (it) => {
    it.effect("kinds sends the token; without one the server's refusal is named with its status", () =>
      Effect.gen(function*() {
        const withToken = yield* chainjobs("--token", "alice-token", "kinds", "--json")
        assert.isTrue(Exit.isSuccess(withToken.exit), failure(withToken.exit))
        assert.includeMembers(JSON.parse(withToken.lines.join("\n")).map((kind: any) => kind.name), ["demo-scan"])
        const base = yield* baseUrl
        const without = yield* chainjobs("kinds")
        assert.match(failure(without.exit), new RegExp(`^${base.replace(/[.]/g, "\\.")}/api/kinds answered 401: \\{.*"Unauthenticated"`))
      }))
  })
})

describe("chainjobs list's next-page hint", () => {
  layer(testServer(), { excludeTestServices: true })("a page of the default size", (it) => {
    it.effect("leaves out --limit when it is the default 20, and keeps the filters", () =>
      Effect.gen(function*() {
        for (let i = 0; i < 21; i++) {
          yield* request("POST", "/api/tasks/demo-fail?wait=true", { body: { steps: 0, delayMillis: 0 } })
        }
        const { lines } = yield* chainjobs("list", "--kind", "demo-fail")
        assert.strictEqual(lines.length, 22, "the header, 20 tasks and the hint")
        assert.match(lines[21], /^more: chainjobs list --kind demo-fail --cursor \S+$/)
      }))
  })
})

describe("chainjobs --url", () => {
  layer(testServer(), { excludeTestServices: true })("ending in a slash", (it) => {
    it.effect("reaches the same server: the slash is not doubled before /rpc or /api", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const lines: Array<string> = []
        const capture = { ...globalThis.console, log: (...parts: Array<unknown>) => lines.push(parts.join(" ")) }
        const exit = yield* Cli.run(["--url", `${base}/`, "list", "--kind", "no-such-kind"]).pipe(
          Effect.provideService(Console.Console, capture),
          Effect.provide(NodeServices.layer),
          Effect.exit
        )
        assert.isTrue(Exit.isSuccess(exit), failure(exit))
        assert.deepStrictEqual(lines, ["no tasks"])
        // `kinds` reads the REST API, not the RPC: its URL is made apart
        const kinds = yield* Cli.run(["--url", `${base}/`, "kinds", "--json"]).pipe(
          Effect.provideService(Console.Console, capture),
          Effect.provide(NodeServices.layer),
          Effect.exit
        )
        assert.isTrue(Exit.isSuccess(kinds), failure(kinds))
        assert.include(lines.slice(1).join("\n"), '"name": "demo-scan"')
      }))
  })
})
