/**
 * How the `chainjobs` executable (`main.ts`) ends: its exit code and what it
 * prints about a failure. A stop by signal is the expected way for `serve` to
 * end, so an interruption alone exits 0 (130 when a command was following a
 * task, `Cli.interruptExitCode`); a command line used wrongly exits 2 after
 * its errors and help; any other failure exits 1 with its message on
 * stderr. Apart from `main.ts`, whose import runs the command line, so
 * that both are tested in process.
 *
 * @since 0.1.0
 */
import { Cause, Console, Effect, Exit, Runtime } from "effect"
import { CliError } from "effect/cli"
import * as Cli from "./Cli.ts"

/** The exit code of a command line used wrongly: a flag or argument unknown, missing, or of a value not allowed. */
export const usageExitCode = 2

/**
 * Exit 0 when stopped by a signal (an interruption alone), or 130 when the
 * signal stopped a command following a task (the task keeps running); 2
 * when the command line was used wrongly (its errors and help are printed);
 * otherwise the default exit codes.
 */
export const teardown: Runtime.Teardown = (exit, onExit) => {
  if (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)) return onExit(Cli.interruptExitCode())
  const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
  if (CliError.isCliError(error) && error._tag === "ShowHelp" && error.errors.length > 0) return onExit(usageExitCode)
  return Runtime.defaultTeardown(exit, onExit)
}

/**
 * Prints a failure for a person: the error's message (or its cause's), or the whole cause of a defect; nothing for
 * an interruption alone, nor for the command line's `ShowHelp` — its errors (an unknown flag, a bad value) and the
 * help are printed already, and its own message, "Help requested", asked for nothing the user did.
 */
export const report = (cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  if (Cause.hasInterruptsOnly(cause)) return Effect.void
  const error = Cause.squash(cause)
  if (CliError.isCliError(error) && error._tag === "ShowHelp") return Effect.void
  if (!Cause.hasFails(cause) || !(error instanceof Error)) return Console.error(`chainjobs: ${Cause.pretty(cause)}`)
  const inner = error.cause instanceof Error ? error.cause.message : ""
  return Console.error(`chainjobs: ${error.message || `${error.name}: ${inner}`}`)
}
