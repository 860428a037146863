/**
 * How the executable ends (`MainExit`), in process: the exit code of a success, a failure and an interruption
 * alone, and the line a failure prints on stderr — the error's message, else its name and its cause's message, or
 * the whole cause of a defect or of a failure that is no `Error`; nothing for an interruption alone, nor for the
 * command line's `ShowHelp` (its lines are printed already), while its other errors are reported.
 */
import { assert, describe, it } from "@effect/vitest"
import { NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Exit } from "effect"
import { CliError } from "effect/cli"
import * as Cli from "../src/Cli.ts"
import * as MainExit from "../src/MainExit.ts"

/** The code `teardown` exits `exit` with. */
const codeOf = (exit: Exit.Exit<unknown, unknown>): number => {
  let code = -1
  MainExit.teardown(exit, (given) => (code = given))
  return code
}

/** What `report` prints on stderr for `cause`, a line per call. */
const reported = (cause: Cause.Cause<unknown>) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    yield* MainExit.report(cause).pipe(
      Effect.provideService(Console.Console, { ...globalThis.console, error: (...parts: Array<unknown>) => lines.push(parts.join(" ")) })
    )
    return lines
  })

/** An error whose own message is empty, with a cause. */
class Quiet extends Error {
  constructor(cause: unknown) {
    super("", { cause })
    this.name = "Quiet"
  }
}

describe("how the executable ends", () => {
  it("a success exits 0, a failure 1, an interruption alone the command line's code (0, or 130 after following a task)", () => {
    assert.strictEqual(codeOf(Exit.succeed("done")), 0)
    assert.strictEqual(codeOf(Exit.fail(new Cli.CliError({ message: "boom" }))), 1)
    assert.strictEqual(codeOf(Exit.failCause(Cause.interrupt())), Cli.interruptExitCode())
    assert.include([0, 130], Cli.interruptExitCode())
  })

  it.effect("a failure prints its message, else its name and its cause's message; an interruption alone prints nothing", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* reported(Cause.fail(new Cli.CliError({ message: "cannot reach the server" }))), [
        "chainjobs: cannot reach the server"
      ])
      assert.deepStrictEqual(yield* reported(Cause.fail(new Quiet(new Error("connect ECONNREFUSED")))), ["chainjobs: Quiet: connect ECONNREFUSED"])
      assert.deepStrictEqual(yield* reported(Cause.fail(new Quiet("not an Error"))), ["chainjobs: Quiet: "])
      assert.deepStrictEqual(yield* reported(Cause.interrupt()), [])
    }))

  it.effect("an unknown flag or a bad value exits 2 with the command line's own lines, and no 'Help requested' after them", () =>
    Effect.gen(function*() {
      for (const args of [["status", "--bogus", "x"], ["list", "--limit", "1e400"]]) {
        const printed: Array<string> = []
        const capture = (...parts: Array<unknown>) => printed.push(parts.join(" "))
        const exit = yield* Cli.run(args).pipe(
          Effect.provideService(Console.Console, { ...globalThis.console, log: capture, error: capture }),
          Effect.provide(NodeServices.layer),
          Effect.exit
        )
        assert.isTrue(Exit.isFailure(exit), args.join(" "))
        if (Exit.isSuccess(exit)) return
        assert.strictEqual(codeOf(exit), MainExit.usageExitCode, args.join(" "))
        assert.strictEqual(MainExit.usageExitCode, 2)
        assert.isAbove(printed.length, 0, args.join(" "))
        assert.deepStrictEqual(yield* reported(exit.cause), [], args.join(" "))
      }
    }))

  it.effect("a defect, or a failure that is no Error, prints the whole cause", () =>
    Effect.gen(function*() {
      const defect = Cause.die(new Error("a bug"))
      assert.deepStrictEqual(yield* reported(defect), [`chainjobs: ${Cause.pretty(defect)}`])
      const plain = Cause.fail("plain words")
      assert.deepStrictEqual(yield* reported(plain), [`chainjobs: ${Cause.pretty(plain)}`])
      assert.include((yield* reported(plain))[0], "plain words")
    }))

  it.effect("a command-line error other than ShowHelp prints its message: only the help request is silent", () =>
    Effect.gen(function*() {
      const invalid = new CliError.InvalidValue({ option: "limit", value: "x", expected: "an integer", kind: "flag" })
      assert.deepStrictEqual(yield* reported(Cause.fail(invalid)), [`chainjobs: ${invalid.message}`])
      const handler = new CliError.UserError({ cause: "the store is locked", userMessage: "the store is locked" })
      assert.deepStrictEqual(yield* reported(Cause.fail(handler)), ["chainjobs: the store is locked"])
      assert.deepStrictEqual(yield* reported(Cause.fail(new CliError.ShowHelp({ commandPath: ["chainjobs"], errors: [] }))), [])
    }))
})
