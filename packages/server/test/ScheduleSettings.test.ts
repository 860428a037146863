/**
 * Stored schedules' operations: declared by configuration (`CHAINJOBS_SCHEDULES`,
 * checked before anything binds, a bad one refused naming the variable), and
 * `chainjobs schedules list | set | remove` against a running service.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Exit, Layer } from "effect"
import * as ServerConfig from "../src/ServerConfig.ts"
import { chainjobs } from "./cli.ts"
import { request, testServer } from "./http.ts"

const loadFrom = (env: Record<string, string>) =>
  Effect.exit(Effect.provideService(ServerConfig.load, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))

/** The message of an exit's failure, or "" when it succeeded. */
const failureMessage = (exit: Exit.Exit<unknown, unknown>): string => {
  if (!Exit.isFailure(exit)) return ""
  const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
  return reason?._tag === "Fail" ? String((reason.error as { message?: string }).message) : ""
}

const scan = { fromBlock: 1, toBlock: 1, delayMillis: 0 }

describe("schedules declared by configuration", () => {
  it.effect("CHAINJOBS_SCHEDULES is read; a bad cron or interval, a blank or repeated name, or bad JSON is refused naming the variable", () =>
    Effect.gen(function*() {
      const good = [{ name: "hourly", kind: "demo-scan", payload: scan, trigger: { _tag: "Cron", cron: "0 * * * *" } }]
      const read = yield* loadFrom({ CHAINJOBS_SCHEDULES: JSON.stringify(good) })
      assert.isTrue(Exit.isSuccess(read) && read.value.schedules[0]?.name === "hourly")
      for (
        const value of [
          [{ name: "x", kind: "demo-scan", trigger: { _tag: "Cron", cron: "sometimes" } }],
          [{ name: "x", kind: "demo-scan", trigger: { _tag: "Interval", millis: 0 } }],
          [{ name: " ", kind: "demo-scan", trigger: { _tag: "Daemon" } }],
          [{ name: "x", kind: "demo-scan", trigger: { _tag: "Daemon" } }, { name: "x", kind: "demo-fail", trigger: { _tag: "Daemon" } }],
          [{ name: "x", kind: "demo-scan", trigger: { _tag: "Weekly" } }],
          "not json"
        ]
      ) {
        const text = typeof value === "string" ? value : JSON.stringify(value)
        const exit = yield* loadFrom({ CHAINJOBS_SCHEDULES: text })
        assert.isTrue(Exit.isFailure(exit), `${text} was accepted`)
        assert.include(failureMessage(exit), "CHAINJOBS_SCHEDULES", text)
      }
    }))

  it.live("configured schedules are declared at start and stored; one of a kind not registered, or with a payload it refuses, stops the start naming the variable", () =>
    Effect.gen(function*() {
      const schedules = [{ name: "often", kind: "demo-scan", payload: scan, trigger: { _tag: "Interval" as const, millis: 60_000 } }]
      yield* Effect.scoped(Effect.flatMap(Layer.build(testServer({ schedules })), (context) =>
        Effect.provideContext(
          Effect.gen(function*() {
            const listed = (yield* request("GET", "/api/schedules")).body
            assert.deepStrictEqual(listed.map((s: { name: string; kind: string }) => [s.name, s.kind]), [["often", "demo-scan"]])
          }),
          context as never
        )))
      for (
        const refused of [
          { name: "ghost", kind: "no-such-kind", trigger: { _tag: "Daemon" as const } },
          { name: "bad", kind: "demo-scan", payload: { fromBlock: "one" }, trigger: { _tag: "Daemon" as const } }
        ]
      ) {
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(testServer({ schedules: [refused] }))))
        const message = failureMessage(exit)
        assert.include(message, "CHAINJOBS_SCHEDULES", JSON.stringify(refused))
        assert.include(message, `"${refused.name}"`)
      }
    }), 60_000)
})

describe("chainjobs schedules", () => {
  it.live("set, list and remove a schedule; a refusal is told with its reason", () =>
    Effect.scoped(Effect.flatMap(Layer.build(testServer()), (context) =>
      Effect.provideContext(
        Effect.gen(function*() {
          const set = yield* chainjobs("schedules", "set", "nightly", "--kind", "demo-scan", "--payload", JSON.stringify(scan), "--cron", "0 3 * * *")
          assert.isTrue(Exit.isSuccess(set.exit), failureMessage(set.exit))
          assert.match(set.lines[0] ?? "", /^nightly\s+demo-scan\s+cron 0 3 \* \* \*/)
          yield* chainjobs("schedules", "set", "keeper", "--kind", "demo-scan", "--payload", JSON.stringify(scan), "--daemon")
          const listed = yield* chainjobs("schedules", "list")
          assert.deepStrictEqual(listed.lines.map((line) => line.split(/\s+/)[0]), ["keeper", "nightly"])
          const json = yield* chainjobs("schedules", "list", "--json")
          assert.deepInclude(JSON.parse(json.lines.join("\n"))[1], { name: "nightly", trigger: { _tag: "Cron", cron: "0 3 * * *" }, payload: scan })
          const removed = yield* chainjobs("schedules", "remove", "keeper")
          assert.deepStrictEqual(removed.lines, ["removed keeper"])
          assert.deepStrictEqual((yield* request("GET", "/api/schedules")).body.map((s: { name: string }) => s.name), ["nightly"])

          const unknown = yield* chainjobs("schedules", "set", "x", "--kind", "no-such-kind", "--every-millis", "1000")
          assert.include(failureMessage(unknown.exit), "UnknownTaskKind")
          const twoTriggers = yield* chainjobs("schedules", "set", "x", "--kind", "demo-scan", "--every-millis", "1000", "--daemon")
          assert.include(failureMessage(twoTriggers.exit), "exactly one of")
          const missing = yield* chainjobs("schedules", "remove", "x")
          assert.include(failureMessage(missing.exit), "ScheduleNotFound")
          assert.strictEqual((yield* request("GET", "/api/schedules")).body.length, 1)
        }),
        context as never
      ))), 30_000)
})
