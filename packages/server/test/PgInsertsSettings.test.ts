/**
 * `CHAINJOBS_PG_INSERTS` / `--pg-inserts`, a setting of the PostgreSQL store alone: set on a service that stores its
 * tasks in SQLite (no `CHAINJOBS_DATABASE_URL`) it is refused at start with a `ServerConfigError` naming the setting
 * and the store, before anything binds, instead of being silently ignored; and in runner mode it reaches the runner's
 * store (`RunnerMode.layerTasks` → `Runner.layer` → `SqlTaskStore`), seen in the statements of a fresh insert on a
 * real runner on PostgreSQL.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Exit, Layer, Option } from "effect"
import { statementsOf } from "@chainjobs/store-sql/test/statementTexts"
import { freePort, heldPort } from "@chainjobs/tasks/test/ports"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { TaskStore } from "@chainjobs/tasks"
import * as RunnerMode from "../src/RunnerMode.ts"
import * as ServerConfig from "../src/ServerConfig.ts"
import { freshDatabase } from "./freshDatabase.ts"
import { serve } from "./serve.ts"

const pgUrl = process.env.CHAINJOBS_TEST_PG_URL

const loadFrom = (env: Record<string, string>) =>
  Effect.exit(Effect.provideService(ServerConfig.load, ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))

/** What a refusal to start says (its `ServerConfigError`'s message). */
const refusal = (exit: Exit.Exit<unknown, ServerConfig.ServerConfigError>) => {
  assert.isTrue(Exit.isFailure(exit), "the settings were accepted")
  const reason = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  return reason?._tag === "Fail" ? reason.error.message : ""
}

const mismatch =
  "CHAINJOBS_PG_INSERTS (--pg-inserts) is a setting of the PostgreSQL store, and this service stores its tasks in SQLite (CHAINJOBS_DATABASE_URL is not set)"

describe("CHAINJOBS_PG_INSERTS without PostgreSQL", () => {
  it.effect("is refused naming the setting and the store, whatever its value; with a database URL, or unset, it is accepted", () =>
    Effect.gen(function*() {
      for (const mode of ["adaptive", "plain", "checked"]) {
        assert.include(refusal(yield* loadFrom({ CHAINJOBS_PG_INSERTS: mode })), mismatch)
      }
      const sqlite = yield* loadFrom({})
      assert.isTrue(Exit.isSuccess(sqlite) && sqlite.value.pgInserts === "adaptive")
      const pg = yield* loadFrom({ CHAINJOBS_PG_INSERTS: "plain", CHAINJOBS_DATABASE_URL: "postgres://jobs@db:5432/jobs" })
      assert.isTrue(Exit.isSuccess(pg) && pg.value.pgInserts === "plain")
    }))

  it.live("stops serve before it binds, given as --pg-inserts or in the environment", () =>
    Effect.gen(function*() {
      // the port is held: a serve that went on to bind it would fail with ServeError, not ServerConfigError
      const port = yield* heldPort
      const flagged = yield* Effect.flip(serve(port, "--pg-inserts", "checked"))
      assert.strictEqual(flagged._tag, "ServerConfigError")
      assert.include(flagged.message, mismatch)
      const fromEnv = yield* serve(port).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: { CHAINJOBS_PG_INSERTS: "plain" } })),
        Effect.flip
      )
      assert.strictEqual(fromEnv._tag, "ServerConfigError")
      assert.include(fromEnv.message, mismatch)
    }).pipe(Effect.scoped), 40_000)
})

describe.skipIf(pgUrl === undefined)("CHAINJOBS_PG_INSERTS in runner mode", () => {
  /**
   * Whether a runner started from `env` (as `serve --runner` reads its settings) on a fresh database inserts a fresh
   * record checked (`ON CONFLICT DO NOTHING`): `adaptive`, the default, starts plain.
   */
  const runnerInsertsChecked = (env: Record<string, string>) =>
    Effect.gen(function*() {
      const databaseUrl = yield* freshDatabase(pgUrl ?? "", "pg_inserts_runner")
      const settings = yield* Effect.flatMap(
        loadFrom({
          CHAINJOBS_DATABASE_URL: databaseUrl,
          CHAINJOBS_RUNNER: "true",
          CHAINJOBS_RUNNER_PORT: String(yield* freePort),
          CHAINJOBS_RUNNER_SHARDS: "12",
          ...env
        }),
        (exit) => exit
      )
      const runner = Option.getOrThrow(settings.runner)
      // built under the recording tracer too: the store's writer, which runs the insert, is a fiber of the layer's
      const statements = yield* statementsOf(
        Effect.scoped(Effect.flatMap(Layer.build(RunnerMode.layerTasks(settings, runner)), (built) => Context.get(built, TaskStore.TaskStore).insert(record())))
      )
      return statements.filter((text) => text.startsWith("WITH")).map((text) => text.includes("DO NOTHING"))
    })

  it.live("reaches the runner's store: checked when set so, plain first by default", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* runnerInsertsChecked({ CHAINJOBS_PG_INSERTS: "checked" }), [true])
      assert.deepStrictEqual(yield* runnerInsertsChecked({}), [false])
    }), 90_000)
})
