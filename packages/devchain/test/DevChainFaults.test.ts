/**
 * A dev chain's node failing or refusing to stop: a node that exits while
 * starting fails `make` with `Exited`, its exit code and what it wrote to
 * stderr (the last 4096 characters of it); a node that cannot be spawned
 * fails with `Spawn`; a node killed from outside, or that exited by itself, lets its
 * scope close at once; a node that ignores SIGTERM and its stdin closing is
 * killed once `stopTimeout` has passed. The faults are injected through
 * `NODE_OPTIONS`, which the node's process inherits from this one.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import { Cause, Effect, Exit, Schedule, Scope } from "effect"
import * as DevChain from "../src/DevChain.ts"

/** The pids of processes whose command line contains the text. */
const pidsWith = (text: string) =>
  execFileSync("ps", ["-eo", "pid=,args="]).toString().split("\n")
    .filter((line) => line.includes(text) && !line.includes("ps -eo"))
    .map((line) => Number(line.trim().split(" ")[0]))

/** Whether the process is gone (reaped: not even a zombie left). */
const gone = (pid: number) => {
  try {
    process.kill(pid, 0)
    return false
  } catch {
    return true
  }
}

/** Runs `effect` with `NODE_OPTIONS` set to `options` for the processes it starts, restoring it after. */
const withNodeOptions = <A, E, R>(options: string, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const before = process.env.NODE_OPTIONS
      process.env.NODE_OPTIONS = options
      return before
    }),
    () => effect,
    (before) =>
      Effect.sync(() => {
        if (before === undefined) delete process.env.NODE_OPTIONS
        else process.env.NODE_OPTIONS = before
      })
  )

/** Kills whatever still listens on the port: never leave a node behind, even when a test fails. */
const killLeftOn = (port: number | string) => {
  const left = pidsWith(`--port ${port}`)
  for (const pid of left) process.kill(pid, "SIGKILL")
  return left
}

describe("DevChain.make, a node that fails", () => {
  it.live("a node exiting while it starts fails with Exited, its exit code and its stderr, and its scope closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const exit = yield* withNodeOptions(
        "--require=/nonexistent/chainjobs-missing-preload.cjs",
        Effect.exit(DevChain.make({ startTimeout: "60 seconds" }).pipe(Scope.provide(scope)))
      )
      // the node has exited (with code 1, not by a signal): closing must not wait for an exit that already happened
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      assert.instanceOf(error, DevChain.DevChainError)
      const failure = error as DevChain.DevChainError
      assert.strictEqual(failure.reason, "Exited")
      assert.match(failure.detail, /^hardhat node exited \(1\): /)
      assert.match(failure.detail, /Cannot find module '\/nonexistent\/chainjobs-missing-preload\.cjs'/)
    }), 60_000)

  it.live("a node writing much to stderr before it exits fails with the last 4096 characters of it", () =>
    Effect.gen(function*() {
      const preload = new URL("./programs/loudFailure.cjs", import.meta.url).pathname
      const error = yield* withNodeOptions(`--require=${preload}`, Effect.flip(Effect.scoped(DevChain.make())))
      assert.strictEqual(error.reason, "Exited")
      const prefix = "hardhat node exited (3): "
      assert.isTrue(error.detail.startsWith(prefix))
      assert.isAtMost(error.detail.length, prefix.length + 4096)
      assert.isAbove(error.detail.length, prefix.length + 4000)
      assert.isTrue(error.detail.endsWith("early noise \nthe last words of the node"))
    }), 60_000)

  it.live("a node's stderr is its error's detail, as it wrote it", () =>
    Effect.gen(function*() {
      const preload = new URL("./programs/loudFailure.cjs", import.meta.url).pathname
      process.env.CHAINJOBS_TEST_QUIET = "1"
      const error = yield* withNodeOptions(`--require=${preload}`, Effect.flip(Effect.scoped(DevChain.make()))).pipe(
        Effect.ensuring(Effect.sync(() => delete process.env.CHAINJOBS_TEST_QUIET))
      )
      assert.strictEqual(error.detail, "hardhat node exited (3): the last words of the node")
    }), 60_000)

  it.live("a node that cannot be spawned fails with Spawn, naming why", () =>
    Effect.gen(function*() {
      const execPath = process.execPath
      const error = yield* Effect.acquireUseRelease(
        Effect.sync(() => {
          process.execPath = "/nonexistent/chainjobs-node"
        }),
        () => Effect.flip(Effect.scoped(DevChain.make({ startTimeout: "60 seconds" }))),
        () =>
          Effect.sync(() => {
            process.execPath = execPath
          })
      )
      assert.strictEqual(error.reason, "Spawn")
      assert.match(error.detail, /ENOENT/)
    }), 60_000)

  it.live("a node killed from outside lets its scope close at once", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const chain = yield* DevChain.make().pipe(Scope.provide(scope))
      const [pid] = pidsWith(`--port ${chain.port}`)
      assert.isDefined(pid)
      process.kill(pid!, "SIGKILL")
      yield* Effect.sync(() => gone(pid!)).pipe(
        Effect.repeat({ schedule: Schedule.spaced("20 millis"), until: (reaped) => reaped })
      )
      // exited by a signal: closing returns without signalling or waiting (a wait would never end)
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(killLeftOn(chain.port), [])
    }), 60_000)

  it.live("a node that ignores SIGTERM and its stdin closing is killed after stopTimeout", () =>
    Effect.gen(function*() {
      const preload = new URL("./programs/ignoreStop.mjs", import.meta.url).pathname
      const scope = yield* Scope.make()
      const chain = yield* withNodeOptions(
        `--import=${preload}`,
        DevChain.make({ stopTimeout: "300 millis" }).pipe(Scope.provide(scope))
      )
      const [pid] = pidsWith(`--port ${chain.port}`)
      assert.isDefined(pid)
      yield* Scope.close(scope, Exit.void).pipe(Effect.onInterrupt(() => Effect.sync(() => killLeftOn(chain.port))))
      const left = killLeftOn(chain.port)
      assert.deepStrictEqual(left, [], "the node outlived its scope")
      assert.isTrue(gone(pid!))
    }), 60_000)
})
