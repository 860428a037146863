/**
 * Test helpers for the process-wide settings `serve` applies (`IdleMemory`,
 * `HeapGrowth`): a fixture script run in a child process of its own, and
 * `serve` started with one environment variable set, a setting read from a
 * given environment.
 */
import { assert } from "@effect/vitest"
import { type Config, ConfigProvider, Effect, Exit } from "effect"
import { execFile } from "node:child_process"
import { join } from "node:path"
import { heldPort } from "@chainjobs/tasks/test/ports"
import { serve } from "./serve.ts"

/** Runs the test directory's `script` in a Node process of its own with `args`; the JSON line it prints. */
export const childReport = <A>(script: string, ...args: ReadonlyArray<string | number>) =>
  Effect.promise(() =>
    new Promise<A>((resolve, reject) =>
      execFile(
        process.execPath,
        [join(import.meta.dirname, script), ...args.map(String)],
        { timeout: 90_000 },
        (error, stdout, stderr) => (error === null ? resolve(JSON.parse(stdout)) : reject(new Error(`${error.message}\n${stderr}`)))
      )
    )
  )

/**
 * What `serve` fails with when the environment holds only `variable=value`, on a held port (a serve that went on
 * to bind it would fail with ServeError instead), as text.
 */
export const serveRefusal = (variable: string, value: string) =>
  Effect.gen(function*() {
    const port = yield* heldPort
    const error = yield* Effect.flip(serve(port).pipe(
      Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: { [variable]: value } }))
    ))
    return String(error)
  }).pipe(Effect.scoped)

/** `config` read from the environment `env` alone: its value, or the failure. */
export const readConfig = <A>(config: Config.Config<A>, env: Record<string, string>) =>
  Effect.exit(Effect.provideService(
    Effect.gen(function*() {
      return yield* config
    }),
    ConfigProvider.ConfigProvider,
    ConfigProvider.fromEnv({ env })
  ))

/** Asserts what `config` reads from `variable` set to each case's value (unset when undefined): the value, or a refusal. */
export const assertReads = <A>(
  config: Config.Config<A>,
  variable: string,
  cases: ReadonlyArray<readonly [string | undefined, A | "refused"]>
) =>
  Effect.forEach(cases, ([value, expected]) =>
    Effect.map(readConfig(config, value === undefined ? {} : { [variable]: value }), (exit) =>
      expected === "refused"
        ? assert.isTrue(Exit.isFailure(exit), `${variable}=${value} read as ${JSON.stringify(exit)}`)
        : assert.deepStrictEqual(exit, Exit.succeed(expected), `${variable}=${value}`)), { discard: true })
