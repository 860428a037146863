/**
 * Where declared schedules and daemons are kept, so that they outlive the
 * processes that declared them: each one by name, with the kind it submits,
 * the payload (encoded through the kind's Schema) and when it runs — a cron
 * expression, a fixed interval, or kept running as a daemon. `PersistedSchedules`
 * runs what is stored here; the memory store here serves tests and throwaway
 * runs, `@chainjobs/store-sql` keeps them in SQLite and PostgreSQL beside the
 * task records.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { TaskStoreError } from "./TaskError.ts"

/** When a stored declaration submits its kind. */
export const Trigger = Schema.Union([
  /** On the ticks of a cron expression (five fields, or six with seconds first), in UTC. */
  Schema.Struct({ _tag: Schema.Literal("Cron"), cron: Schema.String }),
  /** Every `millis` milliseconds, the first one `millis` after it starts. */
  Schema.Struct({ _tag: Schema.Literal("Interval"), millis: Schema.Number }),
  /** Kept running: submitted again, with backoff, whenever it fails. */
  Schema.Struct({ _tag: Schema.Literal("Daemon") })
])
/** @see Trigger */
export type Trigger = typeof Trigger.Type

/** A schedule or daemon as it is stored. */
export const StoredSchedule = Schema.Struct({
  /** Unique: declaring a name again replaces its declaration. */
  name: Schema.String,
  /** The task kind submitted. */
  kind: Schema.String,
  /** The payload of every submission, encoded through the kind's payload Schema. */
  payload: Schema.Unknown,
  trigger: Trigger,
  /** When it was declared, epoch milliseconds. */
  createdAt: Schema.Number
})
/** @see StoredSchedule */
export type StoredSchedule = typeof StoredSchedule.Type

/** The persistence of declared schedules and daemons. */
export class ScheduleStore extends Context.Service<ScheduleStore, {
  /** Every stored declaration, by name. */
  readonly list: Effect.Effect<ReadonlyArray<StoredSchedule>, TaskStoreError>
  /** Stores a declaration, replacing one of the same name. */
  put(schedule: StoredSchedule): Effect.Effect<void, TaskStoreError>
  /** Removes a declaration; true if it existed. */
  remove(name: string): Effect.Effect<boolean, TaskStoreError>
}>()("@chainjobs/tasks/ScheduleStore") {}

/** Declarations held in a `Map`, gone with the process. */
export const makeMemory: Effect.Effect<ScheduleStore["Service"]> = Effect.sync(() => {
  const stored = new Map<string, StoredSchedule>()
  return ScheduleStore.of({
    list: Effect.sync(() => Array.from(stored.values()).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))),
    put: (schedule) => Effect.sync(() => void stored.set(schedule.name, schedule)),
    remove: (name) => Effect.sync(() => stored.delete(name))
  })
})

/** The memory store as a layer. */
export const layerMemory: Layer.Layer<ScheduleStore> = Layer.effect(ScheduleStore, makeMemory)
