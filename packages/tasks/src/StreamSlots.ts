/**
 * Counted stream slots: how many streams each holder (a principal, a
 * connection) has open, under one limit per holder. A stream takes a slot in
 * a scope and gives it back when that scope closes, however it closes (run to
 * its end, interrupted, its reader gone); the one past the limit is refused
 * with the caller's own typed error, counted in `refused`, and the holder's
 * other streams are not touched. Admission is a counter, not a scan; a holder
 * with no slot taken has no entry.
 *
 * Used by the access rules (`TaskAccess`: all-tasks streams and task streams
 * per principal) and by the RPC server (streaming calls per connection). A
 * caller with no scope to hold a slot in (a stream written straight on a
 * socket) takes it with `enter` and gives it back with `leave` itself.
 *
 * @since 0.1.0
 */
import { Effect, Metric, Schema, type Scope } from "effect"

/** A value given as a limit, as a message shows it: a string quoted, an object or function by its kind alone. */
const shown = (value: unknown): string =>
  typeof value === "string"
    ? JSON.stringify(value)
    : typeof value === "function"
    ? "a function"
    : typeof value === "object" && value !== null
    ? Array.isArray(value) ? "an array" : "an object"
    : String(value)

/** A limit that is not a whole number of at least 1 (NaN, negative, fractional, infinite, not a number), refused at construction. */
export class InvalidSlotLimit extends Schema.TaggedError<InvalidSlotLimit>("@chainjobs/tasks/StreamSlots/InvalidSlotLimit")(
  "InvalidSlotLimit",
  {
    /** The setting the limit was given as, e.g. `maxEventStreams`. */
    setting: Schema.String,
    /** The value given: any value, as a caller not checked by the compiler may give a string or `null`. */
    limit: Schema.Unknown
  }
) {
  override get message(): string {
    return `${this.setting} must be a whole number of at least 1, not ${shown(this.limit)}`
  }
}

/** Streams refused because their holder held as many as its limit allows, by limit (`StreamSlots` `name`). */
export const refused = Metric.counter("chainjobs_streams_refused_total", {
  description: "Streams refused because their holder (a principal, a connection) held as many open as its limit allows",
  incremental: true
})

/** The slots of every holder under one limit. */
export interface StreamSlots<K, E> {
  /** The most slots one holder may take at once. */
  readonly limit: number
  /** Takes one of `holder`'s slots until the current scope closes, or fails with the refusal when it holds `limit`. */
  take(holder: K): Effect.Effect<void, E, Scope.Scope>
  /**
   * Takes one of `holder`'s slots now, held until `leave`: false (nothing taken, nothing counted) when it holds
   * `limit`, for a caller that then asks again through `take` to be refused.
   */
  enter(holder: K): boolean
  /** Gives back one slot `holder` took with `enter`: once for each `enter` that returned true. */
  leave(holder: K): void
  /** The slots `holder` holds now. */
  held(holder: K): number
  /** The holders holding at least one slot now. */
  holders(): number
}

/** What `make` needs: the limit, the names it is known by, and the refusal a holder at its limit gets. */
export interface Options<K, E> {
  /** The setting the limit comes from, named in `InvalidSlotLimit`. */
  readonly setting: string
  /** The `limit` attribute of `refused`, e.g. `event-streams-per-principal`. */
  readonly name: string
  /** The most slots one holder may take at once: a whole number of at least 1. */
  readonly limit: number
  /** The refusal of `holder`, which holds `open` slots. */
  readonly refuse: (holder: K, open: number) => E
}

/** Empty slots under `options.limit`; fails with `InvalidSlotLimit` unless it is a whole number of at least 1. */
export const make = <K, E>(options: Options<K, E>): Effect.Effect<StreamSlots<K, E>, InvalidSlotLimit> =>
  Effect.suspend(() => {
    const { limit } = options
    if (!Number.isSafeInteger(limit) || limit < 1) {
      return Effect.fail(new InvalidSlotLimit({ setting: options.setting, limit }))
    }
    const open = new Map<K, number>()
    const counted = Metric.withAttributes(refused, { limit: options.name })
    const enter = (holder: K): boolean => {
      const held = open.get(holder) ?? 0
      if (held >= limit) return false
      open.set(holder, held + 1)
      return true
    }
    const leave = (holder: K): void => {
      const held = open.get(holder)! - 1
      if (held === 0) open.delete(holder)
      else open.set(holder, held)
    }
    const acquire = (holder: K) =>
      Effect.suspend(() =>
        enter(holder)
          ? Effect.void
          : Effect.andThen(Metric.update(counted, 1), Effect.fail(options.refuse(holder, open.get(holder)!)))
      )
    return Effect.succeed<StreamSlots<K, E>>({
      limit,
      take: (holder) => Effect.acquireRelease(acquire(holder), () => Effect.sync(() => leave(holder))),
      enter,
      leave,
      held: (holder) => open.get(holder) ?? 0,
      holders: () => open.size
    })
  })
