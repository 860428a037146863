/**
 * Schedules and daemons declared by configuration (`CHAINJOBS_SCHEDULES`,
 * `serve --schedules`): a JSON array of `{name, kind, payload?, trigger}`,
 * the body of `PUT /api/schedules/{name}` with its name, e.g.
 * `[{"name":"reconcile","kind":"demo-scan","payload":{…},"trigger":{"_tag":"Cron","cron":"0 * * * *"}}]`.
 *
 * Checked twice before anything binds: with the other settings (`invalid`: a
 * name given twice or blank, a cron that does not parse, an interval that is
 * not a positive whole number), and once the kinds are registered, when each
 * is declared (`layer`: the kind is registered, the payload decodes). Either
 * refusal names the variable and the schedule, and the service does not
 * start. Declared, they are stored like those of the API (replacing a stored
 * one of the same name), so they run once per service or once cluster-wide;
 * one left out of the configuration later stays stored until removed
 * (`chainjobs schedules remove`).
 *
 * @since 0.1.0
 */
import { Effect, Layer, Schema } from "effect"
import { PersistedSchedules, ScheduleStore } from "@chainjobs/tasks"

/** The variable the schedules are configured by. */
export const variable = "CHAINJOBS_SCHEDULES"

/** One configured schedule or daemon. */
export const ScheduleSetting = Schema.Struct({
  name: Schema.String,
  kind: Schema.String,
  /** The payload of every submission, as the kind's payload Schema encodes it (JSON). Default: null. */
  payload: Schema.optionalKey(Schema.Unknown),
  trigger: ScheduleStore.Trigger
})
/** @see ScheduleSetting */
export type ScheduleSetting = typeof ScheduleSetting.Type

/** The setting's value: a JSON array of schedules. */
export const ScheduleSettings = Schema.fromJsonString(Schema.Array(ScheduleSetting))

/** Why the configured schedules cannot run whatever kinds are registered, naming the variable; undefined when they can. */
export const invalid = (schedules: ReadonlyArray<ScheduleSetting>): string | undefined => {
  const seen = new Set<string>()
  for (const schedule of schedules) {
    if (seen.has(schedule.name)) return `${variable}: schedule "${schedule.name}" is given twice`
    seen.add(schedule.name)
    const refused = PersistedSchedules.invalid(schedule)
    if (refused !== undefined) return `${variable}: ${refused.message}`
  }
  return undefined
}

/** A configured schedule was refused when declared at start: its kind is not registered, or its payload does not decode. */
export class ScheduleSettingError extends Schema.TaggedError<ScheduleSettingError>("@chainjobs/server/ScheduleSettingError")(
  "ScheduleSettingError",
  {
    name: Schema.String,
    /** Why `declare` refused it. */
    detail: Schema.String
  }
) {
  override get message(): string {
    return `invalid configuration: ${variable}: schedule "${this.name}": ${this.detail}`
  }
}

/** Declares the configured schedules at start, over `PersistedSchedules`; the first refused fails the start. */
export const layer = (
  schedules: ReadonlyArray<ScheduleSetting>
): Layer.Layer<never, ScheduleSettingError, PersistedSchedules.PersistedSchedules> =>
  Layer.effectDiscard(Effect.gen(function*() {
    const persisted = yield* PersistedSchedules.PersistedSchedules
    yield* Effect.forEach(schedules, (schedule) =>
      persisted.declare({ ...schedule, payload: schedule.payload ?? null }).pipe(
        Effect.mapError((error) => new ScheduleSettingError({ name: schedule.name, detail: error.message }))
      ), { discard: true })
  }))
