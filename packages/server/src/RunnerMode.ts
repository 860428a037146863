/**
 * The service as one runner of a cluster (`CHAINJOBS_RUNNER=true`): its
 * `Tasks` and task store come from `@chainjobs/cluster` on the shared
 * PostgreSQL database instead of a supervisor of its own, so every runner's
 * REST API, RPC, CLI and dashboard answer for every task of the cluster.
 * Everything else (routes, kinds, chains) is the same as a single process.
 * `ServerConfig` has already refused runner mode without a database URL.
 *
 * @since 0.1.0
 */
import { type Layer, Option, Redacted } from "effect"
import { Runner, type RunnerConfig } from "@chainjobs/cluster"
import type { ScheduleStore, TaskInterest, Tasks, TaskStore } from "@chainjobs/tasks"
import type { ServerSettings } from "./ServerConfig.ts"

/**
 * The runner's `Tasks`, task and schedule stores, status, and the `TaskInterest` the service's `TaskFeed` declares
 * its subscribers in, on the configured database.
 */
export const layerTasks = (
  settings: ServerSettings,
  runner: RunnerConfig.RunnerSettings
): Layer.Layer<
  Tasks.Tasks | TaskStore.TaskStore | ScheduleStore.ScheduleStore | Runner.RunnerStatus | TaskInterest.TaskInterest,
  Runner.StartError
> =>
  Runner.layer({
    databaseUrl: Option.getOrElse(settings.databaseUrl, () => Redacted.make("")),
    runner,
    supervisor: settings.tasks,
    pgInserts: settings.pgInserts
  })
