/**
 * The submission quota of a cluster: the access facade's token buckets kept in
 * PostgreSQL, so a principal's submissions count against one bucket whichever
 * runner receives them. A take is one statement (an upsert that refills the
 * bucket for the time passed and takes a token if there is one), atomic under
 * concurrent takes from every runner. Time is each runner's `Clock`.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import { Quota } from "@chainjobs/tasks"

/** Tolerance for the floating-point refill, as in the memory quota: a token 1e-9 short still counts. */
const epsilon = 1e-9

/** Makes the shared bucket table if missing. */
export const migrate: Effect.Effect<void, unknown, SqlClient.SqlClient> = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql`CREATE TABLE IF NOT EXISTS chainjobs_quota (
    key TEXT PRIMARY KEY,
    tokens DOUBLE PRECISION NOT NULL,
    at BIGINT NOT NULL,
    granted BOOLEAN NOT NULL
  )`.pipe(Effect.asVoid))

/**
 * A quota of `rate` whose buckets are rows of `chainjobs_quota`. A store that
 * cannot be reached grants the token (and logs): the quota protects the
 * service, it must not stop it.
 */
export const make = (sql: SqlClient.SqlClient) => (rate: Quota.QuotaRate): Quota.Quota => {
  const limit = Math.max(1, rate.limit)
  const burst = Math.max(limit, rate.burst ?? limit)
  const windowMillis = Math.max(1, Duration.toMillis(Duration.fromInputUnsafe(rate.window)))
  const perMilli = limit / windowMillis
  return {
    rate: { limit, windowMillis, burst },
    take: (key) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const refilled = sql`LEAST(${burst}, q.tokens + GREATEST(0, ${now} - q.at) * ${perMilli})`
        return sql<{ tokens: number; granted: boolean }>`
          INSERT INTO chainjobs_quota AS q (key, tokens, at, granted) VALUES (${key}, ${burst - 1}, ${now}, TRUE)
          ON CONFLICT (key) DO UPDATE SET
            granted = ${refilled} + ${epsilon} >= 1,
            tokens = CASE WHEN ${refilled} + ${epsilon} >= 1 THEN GREATEST(0, ${refilled} - 1) ELSE ${refilled} END,
            at = GREATEST(q.at, ${now})
          RETURNING tokens, granted`.pipe(
          Effect.map((rows): Quota.Taken => {
            const row = rows[0]
            if (row === undefined || row.granted) return { _tag: "Granted" }
            return { _tag: "Refused", retryAfterMillis: Math.max(1, Math.ceil((1 - Number(row.tokens)) / perMilli)) }
          }),
          Effect.catchCause((cause) =>
            Effect.as(Effect.logWarning("chainjobs: the shared quota could not be read; granted", cause), { _tag: "Granted" } as const)
          )
        )
      }),
    refund: (key) =>
      sql`UPDATE chainjobs_quota SET tokens = LEAST(${burst}, tokens + 1) WHERE key = ${key}`.pipe(
        Effect.asVoid,
        Effect.catchCause((cause) => Effect.logWarning("chainjobs: the shared quota could not refund a token", cause))
      )
  }
}

/** The shared quota as the access facade's `Quota.Maker`, its table made first. */
export const layer = Layer.effect(
  Quota.Maker,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* Effect.orDie(migrate)
    return make(sql)
  })
)
