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
 * Fibers run on the service's scheduler (`TurnScheduler`): at most 2 ms of
 * their scheduled work per turn of the event loop, so that a burst of woken
 * watchers does not keep the loop from accepting connections;
 * `CHAINJOBS_TURN_BUDGET_MS` sets the budget (0: Effect's own scheduler).
 * The exit code and the failure's report are `MainExit`'s.
 *
 * @since 0.1.0
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import * as Cli from "./Cli.ts"
import { report, teardown } from "./MainExit.ts"
import * as TurnScheduler from "./TurnScheduler.ts"

Cli.run(process.argv.slice(2)).pipe(
  TurnScheduler.install,
  Effect.tapCause(report),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, teardown })
)
