/**
 * Schedules and daemons declared at run time and kept in the `ScheduleStore`,
 * so that they survive a restart of every process: `declare` validates a
 * declaration (the kind is registered, the payload decodes, the cron parses,
 * the interval is a positive whole number of milliseconds) and stores it;
 * `remove` deletes it. Every process running this service reads the store at
 * start and again every `syncInterval`, and declares what it finds with
 * `Tasks.schedule` / `Tasks.daemon` (and cancels what went): in a single
 * process they run there; on a cluster of runners every runner declares them,
 * and each runs once cluster-wide as a singleton.
 *
 * @since 0.1.0
 */
import { Clock, Context, Cron, Effect, Layer, Result, Schedule, Schema, Scope } from "effect"
import { ScheduleStore, type StoredSchedule, type Trigger } from "./ScheduleStore.ts"
import * as Task from "./Task.ts"
import { type InvalidPayload, type TaskStoreError, UnknownTaskKind } from "./TaskError.ts"
import { Tasks } from "./Tasks.ts"

/** A declaration refused before anything was stored; `reason` names what is wrong, `detail` how. */
export class InvalidSchedule extends Schema.TaggedError<InvalidSchedule>("@chainjobs/tasks/InvalidSchedule")("InvalidSchedule", {
  name: Schema.String,
  reason: Schema.Literals(["name", "cron", "interval"]),
  detail: Schema.String
}, { httpApiStatus: 400 }) {
  override get message(): string {
    return `schedule "${this.name}": invalid ${this.reason}: ${this.detail}`
  }
}

/** No schedule or daemon of this name is stored. */
export class ScheduleNotFound extends Schema.TaggedError<ScheduleNotFound>("@chainjobs/tasks/ScheduleNotFound")(
  "ScheduleNotFound",
  { name: Schema.String },
  { httpApiStatus: 404 }
) {
  override get message(): string {
    return `no schedule named "${this.name}"`
  }
}

/** What a caller declares: a name, the kind, its payload (encoded, as JSON) and when it runs. */
export interface Declaration {
  readonly name: string
  readonly kind: string
  readonly payload: unknown
  readonly trigger: Trigger
}

/** Why `declare` refused a declaration. */
export type DeclareError = InvalidSchedule | UnknownTaskKind | InvalidPayload | TaskStoreError

/** Stored schedules and daemons, and this process's share in running them. */
export class PersistedSchedules extends Context.Service<PersistedSchedules, {
  /** Validates and stores a declaration (replacing one of the same name); it runs from the next sync on, here at once. */
  declare(declaration: Declaration): Effect.Effect<StoredSchedule, DeclareError>
  /** Every stored declaration, by name. */
  readonly list: Effect.Effect<ReadonlyArray<StoredSchedule>, TaskStoreError>
  /** Deletes a declaration; it stops from the next sync on, here at once. */
  remove(name: string): Effect.Effect<void, ScheduleNotFound | TaskStoreError>
}>()("@chainjobs/tasks/PersistedSchedules") {}

/** How often the store is read again for declarations added or removed elsewhere. */
export const syncInterval = "1 second"

/** The longest name a declaration may have. */
const maxNameLength = 200

/** How a daemon is restarted when its task fails: after 1 s, doubling, at most a minute apart. */
const daemonRestart = Schedule.min([Schedule.exponential("1 second"), Schedule.spaced("1 minute")])

/**
 * Whether a parsed cron names a time that exists: one naming only dates no month has (`0 0 30 2 *`, the 31st of a
 * 30-day month) parses, but finding its next time throws, and its schedule would stop without ever running. A cron
 * has no year, so one that fires at all fires within a few years of any date (February 29th within 8).
 */
const fires = (cron: Cron.Cron): boolean => {
  try {
    Cron.next(cron, new Date(0))
    return true
  } catch {
    return false
  }
}

/**
 * Why a trigger stands for no schedule, if it does not: a cron that does not parse or names no date that exists, an
 * interval that is not a positive whole number.
 */
const invalidTrigger = (name: string, trigger: Trigger): InvalidSchedule | undefined => {
  switch (trigger._tag) {
    case "Cron": {
      const parsed = Cron.parse(trigger.cron)
      if (Result.isFailure(parsed)) return new InvalidSchedule({ name, reason: "cron", detail: parsed.failure.message })
      return fires(parsed.success)
        ? undefined
        : new InvalidSchedule({ name, reason: "cron", detail: "it names no date that exists (such as February 30th), so it would never run" })
    }
    case "Interval":
      return Number.isSafeInteger(trigger.millis) && trigger.millis >= 1
        ? undefined
        : new InvalidSchedule({ name, reason: "interval", detail: `${trigger.millis} is not a positive whole number of milliseconds` })
    case "Daemon":
      return undefined
  }
}

/** The schedule of a valid trigger (none for a daemon). */
const scheduleOf = (trigger: Trigger): Schedule.Schedule<unknown, unknown, unknown> | undefined =>
  trigger._tag === "Cron"
    ? Schedule.cron(Cron.parseUnsafe(trigger.cron))
    : trigger._tag === "Interval"
    ? Schedule.spaced(trigger.millis)
    : undefined

/**
 * A control character (C0, DEL, C1): U+0000 cannot be stored in PostgreSQL's
 * text, and the others (a line break, an escape) would let a name rewrite a
 * log line or the CLI's table; no name means one.
 */
const controlCharacter = /\p{Cc}/u

/**
 * Why a declaration cannot run whatever the kinds registered, if it cannot: a
 * blank or overlong name or one holding a control character, a cron that does
 * not parse or never fires (no such date), an interval that is not a positive whole number of milliseconds.
 * Configuration checks with it before anything starts; `declare` checks it
 * too, on every store alike.
 */
export const invalid = (declaration: Pick<Declaration, "name" | "trigger">): InvalidSchedule | undefined => {
  const { name } = declaration
  if (name.trim() === "" || name.length > maxNameLength) {
    return new InvalidSchedule({ name, reason: "name", detail: `a name is 1 to ${maxNameLength} characters, not blank` })
  }
  if (controlCharacter.test(name)) {
    return new InvalidSchedule({ name, reason: "name", detail: "a name holds no control character (U+0000 to U+001F, U+007F to U+009F)" })
  }
  return invalidTrigger(name, declaration.trigger)
}

/** Same kind, payload and trigger: a stored declaration that runs as it did. */
const sameDeclaration = (a: StoredSchedule, b: StoredSchedule) =>
  a.kind === b.kind && JSON.stringify(a.payload) === JSON.stringify(b.payload) && JSON.stringify(a.trigger) === JSON.stringify(b.trigger)

/** Builds the service over `Tasks` and the `ScheduleStore`; its declarations run until the scope closes. */
export const make = Effect.gen(function*() {
  const tasks = yield* Tasks
  const store = yield* ScheduleStore
  const scope = yield* Effect.scope
  /** What this process declared, by name, and how to withdraw it. */
  const running = new Map<string, { readonly stored: StoredSchedule; readonly stop: Effect.Effect<void> }>()

  const kindNamed = (name: string) =>
    Effect.flatMap(tasks.kinds, (kinds) => {
      const kind = kinds.find((k) => k.name === name)
      return kind === undefined ? Effect.fail(new UnknownTaskKind({ kind: name })) : Effect.succeed(kind)
    })

  /** Declares a stored schedule here, or fails with why it cannot run (a kind not registered in this process, …). */
  const start = (stored: StoredSchedule) =>
    Effect.gen(function*() {
      const kind = yield* kindNamed(stored.kind)
      const payload = yield* Task.decodePayload(kind, stored.payload)
      const refused = invalidTrigger(stored.name, stored.trigger)
      if (refused !== undefined) return yield* refused
      const schedule = scheduleOf(stored.trigger)
      const stop = schedule === undefined
        ? (yield* tasks.daemon(kind, payload, { restart: daemonRestart })).stop
        : (yield* tasks.schedule(kind, payload, { schedule })).cancel
      running.set(stored.name, { stored, stop })
    })

  const stop = (name: string) =>
    Effect.suspend(() => {
      const entry = running.get(name)
      running.delete(name)
      return entry === undefined ? Effect.void : entry.stop
    })

  /** Brings this process's declarations in line with the store. */
  const sync = Effect.gen(function*() {
    const stored = yield* store.list
    const names = new Set(stored.map((s) => s.name))
    for (const [name, entry] of running) {
      const now = stored.find((s) => s.name === name)
      if (!names.has(name) || now === undefined || !sameDeclaration(entry.stored, now)) yield* stop(name)
    }
    for (const declaration of stored) {
      if (running.has(declaration.name)) continue
      yield* start(declaration).pipe(
        Effect.catchCause((cause) =>
          Effect.logWarning(`chainjobs: stored schedule "${declaration.name}" cannot run in this process`, cause)
        )
      )
    }
  })

  yield* Effect.catchCause(sync, (cause) => Effect.logWarning("chainjobs: could not read the stored schedules", cause))
  yield* sync.pipe(
    Effect.catchCause((cause) => Effect.logWarning("chainjobs: could not read the stored schedules", cause)),
    Effect.repeat(Schedule.spaced(syncInterval)),
    Effect.delay(syncInterval),
    Effect.forkIn(scope)
  )
  yield* Scope.addFinalizer(scope, Effect.suspend(() => Effect.forEach(Array.from(running.keys()), stop, { discard: true })))

  return PersistedSchedules.of({
    declare: (declaration) =>
      Effect.gen(function*() {
        const { name } = declaration
        const refused = invalid(declaration)
        if (refused?.reason === "name") return yield* refused
        const kind = yield* kindNamed(declaration.kind)
        yield* Task.decodePayload(kind, declaration.payload)
        if (refused !== undefined) return yield* refused
        const stored: StoredSchedule = {
          name,
          kind: kind.name,
          payload: declaration.payload,
          trigger: declaration.trigger,
          createdAt: yield* Clock.currentTimeMillis
        }
        yield* store.put(stored)
        yield* Effect.ignore(sync)
        return stored
      }),
    list: store.list,
    remove: (name) =>
      Effect.flatMap(store.remove(name), (existed) =>
        existed ? Effect.ignore(sync) : Effect.fail(new ScheduleNotFound({ name })))
  })
})

/** The service as a layer over `Tasks` and a `ScheduleStore`. */
export const layer: Layer.Layer<PersistedSchedules, never, Tasks | ScheduleStore> = Layer.effect(PersistedSchedules, make)

