#!/usr/bin/env node
/**
 * The `chainjobs` executable (`npm start` runs `chainjobs serve`).
 *
 * SIGTERM and SIGINT interrupt the program, which closes the service's
 * scope: the HTTP server stops, the supervisor drains within its grace
 * period and records final states. A stop by signal is the expected way for
 * `serve` to end, so it exits 0 (130 for a command that was following a
 * task); failures exit 1 with their message on stderr.
 *
 * Fibers run on the service's scheduler (`TurnScheduler`): at most 8 ms of
 * their scheduled work per turn of the event loop, so that a burst of woken
 * watchers does not keep the loop from accepting connections;
 * `CHAINJOBS_TURN_BUDGET_MS` sets the budget (0: Effect's own scheduler).
 *
 * @since 0.1.0
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, Runtime } from "effect"
import * as Cli from "./Cli.ts"
import * as TurnScheduler from "./TurnScheduler.ts"

/**
 * Exit 0 when stopped by a signal (an interruption alone), or 130 when the
 * signal stopped a command following a task (the task keeps running);
 * otherwise the default exit codes.
 */
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
    ? onExit(Cli.interruptExitCode())
    : Runtime.defaultTeardown(exit, onExit)

/** Prints a failure for a person: the error's message (or its cause's), or the whole cause of a defect. */
const report = (cause: Cause.Cause<unknown>) => {
  if (Cause.hasInterruptsOnly(cause)) return Effect.void
  const error = Cause.squash(cause)
  if (!Cause.hasFails(cause) || !(error instanceof Error)) return Console.error(`chainjobs: ${Cause.pretty(cause)}`)
  const inner = error.cause instanceof Error ? error.cause.message : ""
  return Console.error(`chainjobs: ${error.message || `${error.name}: ${inner}`}`)
}

Cli.run(process.argv.slice(2)).pipe(
  TurnScheduler.install,
  Effect.tapCause(report),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown })
)
