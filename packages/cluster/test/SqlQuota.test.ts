/**
 * The shared quota on the real PostgreSQL: two quotas on two connection pools
 * (two runners) draw on one bucket per key.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Redacted, Schema, type Scope } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlClient } from "effect/sql"
import { SqlQuota } from "@chainjobs/cluster"
import { pgTestUrl } from "./RunnerProcess.ts"

let schemas = 0

/** A pool on a fresh schema of the test database, dropped at the end of the scope. */
const pool = (schema: string) =>
  Effect.map(
    PgClient.make({ url: Redacted.make(pgTestUrl ?? ""), maxConnections: 2, startupParameters: { search_path: schema } }),
    (client): SqlClient.SqlClient => client
  ).pipe(Effect.provide(Reactivity.layer))

const withSchema = <A, E>(body: (schema: string) => Effect.Effect<A, E, Scope.Scope>) =>
  Effect.gen(function*() {
    const schema = `quota_test_${process.pid}_${++schemas}`
    const admin = yield* pool("public")
    yield* admin`CREATE SCHEMA ${admin(schema)}`
    yield* Effect.addFinalizer(() => Effect.ignore(admin`DROP SCHEMA ${admin(schema)} CASCADE`))
    return yield* body(schema)
  })

describe.skipIf(pgTestUrl === undefined)("SqlQuota", () => {
  it.live.prop(
    "two runners' quotas grant a key's burst once between them, and refuse the rest with a wait",
    { burst: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 6 })), onA: Schema.Array(Schema.Boolean).check(Schema.isMaxLength(14)) },
    ({ burst, onA }) =>
      withSchema((schema) =>
        Effect.gen(function*() {
          const a = yield* pool(schema)
          const b = yield* pool(schema)
          yield* Effect.provideService(SqlQuota.migrate, SqlClient.SqlClient, a)
          const rate = { limit: burst, window: "1 hour" as Duration.Input, burst }
          const quotas = [SqlQuota.make(a)(rate), SqlQuota.make(b)(rate)]
          const taken = yield* Effect.forEach(onA, (first) => quotas[first ? 0 : 1].take("alice"))
          const granted = taken.filter((t) => t._tag === "Granted").length
          assert.strictEqual(granted, Math.min(burst, onA.length))
          for (const t of taken.slice(burst)) assert.isTrue(t._tag === "Refused" && t.retryAfterMillis > 0)
          // another key has its own bucket
          assert.strictEqual((yield* quotas[1].take("bob"))._tag, "Granted")
        })
      ).pipe(Effect.scoped),
    { timeout: 60_000, arbitrary: { runs: 10 } }
  )
})
