/**
 * `/api/schedules` on the service with its SQLite data directory: a schedule
 * declared over REST runs, is listed, survives a restart of the service (a
 * second server on the same directory runs it without being told), and stops
 * when deleted; bad declarations answer their typed error and store nothing;
 * with auth on, only admins read or change them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { request, testServer } from "./http.ts"

/** Runs `body` against a server on `dataDir`, stopped afterwards. */
const onServer = <A, E, R>(dataDir: string, body: Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.flatMap(Layer.build(testServer({ dataDir })), (context) => Effect.provideContext(body, context as never)))

/** The tasks of a kind the server has recorded. */
const tasksOf = (kind: string) => Effect.map(request("GET", `/api/tasks?kind=${kind}&limit=100`), (reply) => reply.body.items as Array<{ id: string }>)

/** Waits until `count` tasks of `kind` are recorded. */
const awaitTasks = (kind: string, count: number) =>
  Effect.gen(function*() {
    for (;;) {
      const found = yield* tasksOf(kind)
      if (found.length >= count) return found
      yield* Effect.sleep("100 millis")
    }
  })

describe("stored schedules over REST", () => {
  it.live("declared, listed, run, kept over a restart of the service, deleted", () =>
    Effect.gen(function*() {
      const dataDir = mkdtempSync(join(tmpdir(), "chainjobs-schedules-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
      const declaration = { kind: "demo-scan", payload: { fromBlock: 1, toBlock: 1, delayMillis: 0 }, trigger: { _tag: "Interval", millis: 200 } }
      yield* onServer(dataDir, Effect.gen(function*() {
        const declared = yield* request("PUT", "/api/schedules/often", { body: declaration })
        assert.strictEqual(declared.status, 200)
        assert.deepInclude(declared.body, { name: "often", kind: "demo-scan", trigger: { _tag: "Interval", millis: 200 } })
        const listed = yield* request("GET", "/api/schedules")
        assert.deepStrictEqual(listed.body.map((s: { name: string }) => s.name), ["often"])
        yield* awaitTasks("demo-scan", 2)
      }))
      // A new service on the same data directory: the schedule is stored, nobody declares it again.
      yield* onServer(dataDir, Effect.gen(function*() {
        const before = (yield* tasksOf("demo-scan")).length
        yield* awaitTasks("demo-scan", before + 2)
        assert.strictEqual((yield* request("DELETE", "/api/schedules/often")).status, 204)
        assert.deepStrictEqual((yield* request("GET", "/api/schedules")).body, [])
        const missing = yield* request("DELETE", "/api/schedules/often")
        assert.strictEqual(missing.status, 404)
        assert.strictEqual(missing.body._tag, "ScheduleNotFound")
      }))
    }).pipe(Effect.scoped), 60_000)

  it.live("a bad cron, an unknown kind or a payload the kind refuses answers its typed error, and nothing is stored", () =>
    onServer(":memory:", Effect.gen(function*() {
      const badCron = yield* request("PUT", "/api/schedules/x", {
        body: { kind: "demo-fail", payload: { steps: 1, delayMillis: 0 }, trigger: { _tag: "Cron", cron: "sometimes" } }
      })
      assert.deepInclude({ status: badCron.status, tag: badCron.body._tag, reason: badCron.body.reason }, { status: 400, tag: "InvalidSchedule", reason: "cron" })
      // A cron naming only dates no month has parses, but would never run: refused as well, saying why.
      for (const cron of ["0 0 0 30 2 *", "0 0 31 4 *", "0 0 31 2,4,6,9,11 *"]) {
        const never = yield* request("PUT", "/api/schedules/x", {
          body: { kind: "demo-fail", payload: { steps: 1, delayMillis: 0 }, trigger: { _tag: "Cron", cron } }
        })
        assert.deepInclude({ status: never.status, tag: never.body._tag, reason: never.body.reason }, { status: 400, tag: "InvalidSchedule", reason: "cron" }, cron)
        assert.include(never.body.detail, "names no date that exists", cron)
      }
      const unknown = yield* request("PUT", "/api/schedules/x", { body: { kind: "nope", trigger: { _tag: "Daemon" } } })
      assert.deepStrictEqual([unknown.status, unknown.body._tag], [404, "UnknownTaskKind"])
      const badPayload = yield* request("PUT", "/api/schedules/x", {
        body: { kind: "demo-fail", payload: { steps: -1, delayMillis: 0 }, trigger: { _tag: "Interval", millis: 1000 } }
      })
      assert.deepStrictEqual([badPayload.status, badPayload.body._tag], [400, "InvalidPayload"])
      assert.deepStrictEqual((yield* request("GET", "/api/schedules")).body, [])
      // February 29th and the 31st exist: stored.
      for (const cron of ["0 0 12 29 2 *", "0 0 31 * *"]) {
        const leap = yield* request("PUT", "/api/schedules/rare", {
          body: { kind: "demo-fail", payload: { steps: 1, delayMillis: 0 }, trigger: { _tag: "Cron", cron } }
        })
        assert.strictEqual(leap.status, 200, cron)
      }
    })), 30_000)
  it.live("with auth on, a principal who is no admin is refused every schedule route with 403 Forbidden, and nothing changes", () =>
    Effect.scoped(Effect.flatMap(
      Layer.build(testServer({ authTokens: { alice: Redacted.make("alice-token"), root: Redacted.make("root-token") }, admins: ["root"] })),
      (context) =>
        Effect.provideContext(
          Effect.gen(function*() {
            const body = { kind: "demo-scan", payload: { fromBlock: 1, toBlock: 1, delayMillis: 0 }, trigger: { _tag: "Interval", millis: 60_000 } }
            const forbidden = (reply: { status: number; body: any }) =>
              assert.deepInclude({ status: reply.status, ...reply.body }, { status: 403, _tag: "Forbidden", principal: "alice", operation: "schedules" })
            forbidden(yield* request("PUT", "/api/schedules/nightly", { body, token: "alice-token" }))
            assert.deepStrictEqual((yield* request("GET", "/api/schedules", { token: "root-token" })).body, [])
            assert.strictEqual((yield* request("PUT", "/api/schedules/nightly", { body, token: "root-token" })).status, 200)
            forbidden(yield* request("GET", "/api/schedules", { token: "alice-token" }))
            forbidden(yield* request("DELETE", "/api/schedules/nightly", { token: "alice-token" }))
            forbidden(yield* request("PUT", "/api/schedules/nightly", { body: { ...body, trigger: { _tag: "Daemon" } }, token: "alice-token" }))
            const kept = (yield* request("GET", "/api/schedules", { token: "root-token" })).body
            assert.deepStrictEqual(kept.map((s: { name: string; trigger: unknown }) => [s.name, s.trigger]), [["nightly", body.trigger]])
            assert.strictEqual((yield* request("GET", "/api/schedules")).status, 401)
          }),
          context as never
        )
    )), 30_000)
})
