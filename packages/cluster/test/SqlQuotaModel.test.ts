/**
 * The shared quota on the real PostgreSQL answers as the runtime's memory
 * quota (`Quota.make`) does, step for step, for any sequence of takes,
 * refunds (at once, of a token just granted) and time passing over a few keys and any rate: the same grants,
 * the same waits on refusal, the bucket refilled for the time passed up to
 * its burst, a refund never filling it past the burst, a runner whose clock
 * is behind refilling nothing. Time is the TestClock's, the same for both.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Layer, Logger, Redacted, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Reactivity } from "effect/reactivity"
import { SqlClient } from "effect/sql"
import { SqlQuota } from "@chainjobs/cluster"
import { Quota } from "@chainjobs/tasks"
import { pgTestUrl } from "./RunnerProcess.ts"

let schemas = 0

/** A client on a fresh schema of the test database, dropped at the end of the scope. */
const onFreshSchema = Effect.gen(function*() {
  const connect = (schema: string) =>
    Effect.map(
      PgClient.make({ url: Redacted.make(pgTestUrl ?? ""), maxConnections: 1, startupParameters: { search_path: schema } }),
      (client): SqlClient.SqlClient => client
    ).pipe(Effect.provide(Reactivity.layer))
  const schema = `quota_model_${process.pid}_${++schemas}`
  const admin = yield* connect("public")
  yield* admin`CREATE SCHEMA ${admin(schema)}`
  yield* Effect.addFinalizer(() => Effect.ignore(admin`DROP SCHEMA ${admin(schema)} CASCADE`))
  return yield* connect(schema)
})

const Step = Schema.Struct({
  /**
   * Milliseconds passing before the step: mostly none or one, so that buckets run dry, overflow and refill
   * in steps that do not add up exactly; a negative one is a runner whose clock is behind.
   */
  wait: Schema.Literals([0, 0, 0, 1, 1, 1, 2, 100, 5000, -50]),
  key: Schema.Literals(["alice", "bob"]),
  /** The token taken, if granted, is given back at once. */
  refund: Schema.Boolean
})

const Rate = Schema.Struct({
  limit: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 4 })),
  windowMillis: Schema.Literals([1, 3, 7, 1000]),
  extraBurst: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: -2, maximum: 3 })))
})

describe.skipIf(pgTestUrl === undefined)("SqlQuota as the memory quota", () => {
  it.effect.prop(
    "the same grants and waits, refills and refunds, step for step",
    { rate: Rate, steps: Schema.Array(Step).check(Schema.isMinLength(12), Schema.isMaxLength(40)) },
    ({ rate, steps }) =>
      Effect.gen(function*() {
        const sql = yield* onFreshSchema
        yield* Effect.provideService(SqlQuota.migrate, SqlClient.SqlClient, sql)
        const given: Quota.QuotaRate = {
          limit: rate.limit,
          window: Duration.millis(rate.windowMillis),
          ...(rate.extraBurst === undefined ? {} : { burst: rate.limit + rate.extraBurst })
        }
        const shared = SqlQuota.make(sql)(given)
        const memory = Quota.make(given)
        assert.deepStrictEqual(shared.rate, memory.rate)
        for (const [i, step] of steps.entries()) {
          yield* TestClock.setTime((yield* Clock.currentTimeMillis) + step.wait)
          const taken = yield* memory.take(step.key)
          assert.deepStrictEqual(yield* shared.take(step.key), taken, `step ${i}`)
          // The access facade gives the token back at once when the request it was taken for is invalid.
          if (step.refund && taken._tag === "Granted") {
            yield* shared.refund(step.key)
            yield* memory.refund(step.key)
          }
        }
      }).pipe(Effect.scoped),
    { timeout: 120_000, arbitrary: { runs: 40 } }
  )

  it.effect("a store that cannot be read grants every token and says so; a refund it cannot write is dropped, logged", () =>
    Effect.gen(function*() {
      // A fresh schema without the quota's table: every statement fails.
      const sql = yield* onFreshSchema
      const warnings: Array<string> = []
      const capture = Logger.make<unknown, void>(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(String(Array.isArray(message) ? message[0] : message))
      })
      const quota = yield* Quota.Maker.pipe(Effect.provide(SqlQuota.layer.pipe(Layer.provide(Layer.succeed(SqlClient.SqlClient, sql)))))
      const taken = yield* Effect.gen(function*() {
        yield* sql`DROP TABLE chainjobs_quota`
        const limited = quota({ limit: 1, window: Duration.hours(1) })
        const answers = []
        for (let i = 0; i < 3; i++) answers.push((yield* limited.take("alice"))._tag)
        yield* limited.refund("alice")
        return answers
      }).pipe(Effect.provide(Logger.layer([capture])))
      assert.deepStrictEqual(taken, ["Granted", "Granted", "Granted"])
      assert.deepStrictEqual(warnings, [
        "chainjobs: the shared quota could not be read; granted",
        "chainjobs: the shared quota could not be read; granted",
        "chainjobs: the shared quota could not be read; granted",
        "chainjobs: the shared quota could not refund a token"
      ])
    }).pipe(Effect.scoped), 60_000)

  it.effect("a window's worth of time refills a whole token though the rate per millisecond does not add up exactly", () =>
    Effect.gen(function*() {
      const sql = yield* onFreshSchema
      yield* Effect.provideService(SqlQuota.migrate, SqlClient.SqlClient, sql)
      // One token per 7 ms: seven refills of 1/7 add up to 0.9999999999999998, a hair short of one.
      const rate: Quota.QuotaRate = { limit: 1, window: Duration.millis(7) }
      for (const [key, quota] of [["shared", SqlQuota.make(sql)(rate)], ["memory", Quota.make(rate)]] as const) {
        assert.deepStrictEqual(yield* quota.take(key), { _tag: "Granted" })
        const answers = []
        for (let i = 0; i < 7; i++) {
          yield* TestClock.adjust(Duration.millis(1))
          answers.push((yield* quota.take(key))._tag)
        }
        assert.deepStrictEqual(answers, ["Refused", "Refused", "Refused", "Refused", "Refused", "Refused", "Granted"])
        // The bucket is empty, not a hair below: the wait is the whole window, not a millisecond more.
        assert.deepStrictEqual(yield* quota.take(key), { _tag: "Refused", retryAfterMillis: 7 })
      }
    }).pipe(Effect.scoped), 60_000)
})
