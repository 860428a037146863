/**
 * `chainjobs schedules` beyond the round trip of `ScheduleSettings.test.ts`:
 * each trigger flag as stored and printed (columns two spaces apart, even
 * when a name fills its own), the refusals made before anything is sent (no trigger, bad JSON), an empty
 * list, and a server out of reach named by its URL.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it, layer } from "@effect/vitest"
import { Console, Effect, Exit } from "effect"
import * as Cli from "../src/Cli.ts"
import * as ScheduleCli from "../src/ScheduleCli.ts"
import { chainjobs } from "./cli.ts"
import { request, testServer } from "./http.ts"

/** The message of an exit's failure, or "" when it succeeded. */
const failureMessage = (exit: Exit.Exit<unknown, unknown>): string => {
  if (!Exit.isFailure(exit)) return ""
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  return reason?._tag === "Fail" ? String((reason.error as { message?: string }).message) : ""
}

const stored = Effect.map(request("GET", "/api/schedules"), (reply) => reply.body as Array<{ readonly name: string; readonly payload: unknown; readonly trigger: unknown }>)

layer(testServer(), { excludeTestServices: true })("chainjobs schedules, each flag", (it) => {
  it.effect("with nothing stored, list says so", () =>
    Effect.gen(function*() {
      const listed = yield* chainjobs("schedules", "list")
      assert.isTrue(Exit.isSuccess(listed.exit), failureMessage(listed.exit))
      assert.deepStrictEqual(listed.lines, ["no schedules"])
    }))

  it.effect("--every-millis stores an interval and --daemon a daemon, each printed as stored with its payload", () =>
    Effect.gen(function*() {
      const every = yield* chainjobs("schedules", "set", "minutely", "--kind", "demo-scan", "--every-millis", "60000", "--payload", "{\"fromBlock\":1,\"toBlock\":1,\"delayMillis\":0}")
      assert.isTrue(Exit.isSuccess(every.exit), failureMessage(every.exit))
      assert.match(every.lines[0] ?? "", /^minutely\s+demo-scan\s+every 60000 ms\s+\{"fromBlock":1,"toBlock":1,"delayMillis":0\}$/)
      const daemon = yield* chainjobs("schedules", "set", "keeper", "--kind", "demo-fail", "--daemon", "--payload", "{\"steps\":1,\"delayMillis\":0}")
      assert.isTrue(Exit.isSuccess(daemon.exit), failureMessage(daemon.exit))
      assert.match(daemon.lines[0] ?? "", /^keeper\s+demo-fail\s+daemon\s+\{"steps":1,"delayMillis":0\}$/)
      const byName = new Map((yield* stored).map((schedule) => [schedule.name, schedule]))
      assert.deepStrictEqual(byName.get("minutely")?.trigger, { _tag: "Interval", millis: 60000 })
      assert.deepStrictEqual(byName.get("keeper")?.trigger, { _tag: "Daemon" })
      for (const name of ["minutely", "keeper"]) yield* chainjobs("schedules", "remove", name)
      assert.deepStrictEqual(yield* stored, [])
    }))

  it.effect("no trigger, or a payload that is not JSON, is refused before anything is sent; nothing is stored", () =>
    Effect.gen(function*() {
      const none = yield* chainjobs("schedules", "set", "x", "--kind", "demo-scan")
      assert.include(failureMessage(none.exit), "give exactly one of --cron, --every-millis and --daemon")
      const three = yield* chainjobs("schedules", "set", "x", "--kind", "demo-scan", "--cron", "0 * * * *", "--every-millis", "5", "--daemon")
      assert.include(failureMessage(three.exit), "give exactly one of")
      const notJson = yield* chainjobs("schedules", "set", "x", "--kind", "demo-scan", "--cron", "0 * * * *", "--payload", "{oops")
      assert.include(failureMessage(notJson.exit), "--payload is not JSON")
      assert.deepStrictEqual(yield* stored, [])
    }))

  it.effect("a refusal of the server is told with its error's tag and message", () =>
    Effect.gen(function*() {
      const badCron = yield* chainjobs("schedules", "set", "x", "--kind", "demo-scan", "--cron", "not a cron", "--payload", "{\"fromBlock\":1,\"toBlock\":1,\"delayMillis\":0}")
      assert.match(failureMessage(badCron.exit), /^InvalidSchedule: .+/)
      assert.deepStrictEqual(yield* stored, [])
    }))

  it.effect("a name as wide as its column is still set apart from the kind", () =>
    Effect.gen(function*() {
      const name = "nightly-balance-snapshot" // 24 characters: its column's width, so no padding follows it
      assert.strictEqual(name.length, 24)
      const set = yield* chainjobs("schedules", "set", name, "--kind", "demo-scan", "--every-millis", "60000", "--payload", "{\"fromBlock\":1,\"toBlock\":1,\"delayMillis\":0}")
      assert.isTrue(Exit.isSuccess(set.exit), failureMessage(set.exit))
      assert.deepStrictEqual((set.lines[0] ?? "").split(/ {2,}/), [
        name,
        "demo-scan",
        "every 60000 ms",
        "{\"fromBlock\":1,\"toBlock\":1,\"delayMillis\":0}"
      ])
      yield* chainjobs("schedules", "remove", name)
    }))
})

describe("chainjobs schedules without a server", () => {
  it.effect("a server out of reach is named by its URL", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const exit = yield* Cli.run(["--url", "http://127.0.0.1:9", "schedules", "list"]).pipe(
        Effect.provideService(Console.Console, { ...globalThis.console, log: (...parts: Array<unknown>) => lines.push(parts.join(" ")) }),
        Effect.provide(NodeServices.layer),
        Effect.exit
      )
      assert.include(failureMessage(exit), "cannot reach the server at http://127.0.0.1:9")
      assert.deepStrictEqual(lines, [])
    }))

  it("a trigger reads as cron <expr>, every <n> ms or daemon", () => {
    assert.strictEqual(ScheduleCli.describeTrigger({ _tag: "Cron", cron: "*/5 * * * *" }), "cron */5 * * * *")
    assert.strictEqual(ScheduleCli.describeTrigger({ _tag: "Interval", millis: 250 }), "every 250 ms")
    assert.strictEqual(ScheduleCli.describeTrigger({ _tag: "Daemon" }), "daemon")
  })
})
