/**
 * The balance cache's upkeep as ordinary tasks: `RefreshStale` reads the chain
 * for every stale balance (and settles pending transfers found confirmed or
 * failed), `ReconcileAll` for every cached balance; each returns what it
 * checked and changed, and the cache's audit table holds each change.
 * `layer` registers both kinds; `layerSchedules` submits them on schedules
 * (every 5 minutes and every hour by default), skipping a tick while the
 * previous run is unfinished.
 *
 * @since 0.1.0
 */
import { Task, Tasks } from "@chainjobs/tasks"
import { Duration, Effect, Layer, Schedule, Schema } from "effect"
import { BalanceCache } from "./BalanceCache.ts"

/** What a pass checked and changed. */
export const UpkeepResult = Schema.Struct({ checked: Schema.Int, changed: Schema.Int, drifted: Schema.Int })

/** Reads the chain for every stale balance. */
export const RefreshStale = Task.define("chainjobs.balances.refresh-stale", {
  payload: Schema.Struct({}),
  success: UpkeepResult,
  policy: { key: () => "refresh-stale", onConflict: "join", timeout: "10 minutes" }
})

/** Reads the chain for every cached balance. */
export const ReconcileAll = Task.define("chainjobs.balances.reconcile", {
  payload: Schema.Struct({}),
  success: UpkeepResult,
  policy: { key: () => "reconcile", onConflict: "join", timeout: "1 hour" }
})

/** Registers both kinds with the supervisor. A pass's failure is a defect of its task (its message says what). */
export const layer: Layer.Layer<never, never, Tasks.Tasks | BalanceCache> = Layer.mergeAll(
  Task.implement(RefreshStale, () => BalanceCache.use((cache) => Effect.orDie(cache.refreshStale))),
  Task.implement(ReconcileAll, () => BalanceCache.use((cache) => Effect.orDie(cache.reconcile)))
)

/** How often the upkeep runs. */
export interface UpkeepSchedules {
  /** Default: every 5 minutes. */
  readonly refreshEvery: Duration.Input
  /** Default: every hour. */
  readonly reconcileEvery: Duration.Input
}

/** The defaults of `UpkeepSchedules`. */
export const defaults: UpkeepSchedules = { refreshEvery: "5 minutes", reconcileEvery: "1 hour" }

/** Submits both kinds on their schedules for the layer's lifetime (register them with `layer`). */
export const layerSchedules = (
  options: Partial<UpkeepSchedules> = {}
): Layer.Layer<never, never, Tasks.Tasks> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const schedules = { ...defaults, ...options }
    const tasks = yield* Tasks.Tasks
    const refresh = yield* Effect.orDie(tasks.schedule(RefreshStale, {}, { schedule: Schedule.spaced(schedules.refreshEvery) }))
    const reconcile = yield* Effect.orDie(tasks.schedule(ReconcileAll, {}, { schedule: Schedule.spaced(schedules.reconcileEvery) }))
    yield* Effect.addFinalizer(() => Effect.andThen(refresh.cancel, reconcile.cancel))
  }))
