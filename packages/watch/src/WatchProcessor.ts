/**
 * The task kinds that process watched items, exactly once. `define` makes a
 * kind whose payload is the `WatchItem` and whose policy makes a second
 * submission of an item join the first (the concurrency key is the item's
 * identity) and a task cut short by a crash resume. `implement` runs the
 * handler inside a database transaction that also records the item as
 * processed: the handler's own writes through the `SqlClient` commit together
 * with that record or not at all, and a task that finds its item already
 * processed (it ran to the commit, then the process died before the task's
 * end was stored) returns the stored result without running the handler again.
 *
 * A handler with effects outside the database (a webhook, a transfer) runs at
 * least once: give the item's `WatchItem.id` to the other side as an
 * idempotency key. The handler holds the transaction while it runs: keep it
 * short, and on SQLite (one writer) do not wait inside it for other writers.
 *
 * @since 0.1.0
 */
import { Task, type TaskPolicy } from "@chainjobs/tasks"
import { Clock, Effect, Exit, Option, Schema } from "effect"
import { SqlClient } from "effect/sql"
import * as WatchItem from "./WatchItem.ts"
import * as WatchStore from "./WatchStore.ts"

/** A kind processing watched items. */
export type ProcessorKind<Name extends string = string, Success extends Task.PlainSchema = Task.PlainSchema, Error extends Task.PlainSchema = Task.PlainSchema> =
  Task.TaskKind<Name, typeof WatchItem.WatchItem, Success, Error>

/** The policy fields a processor kind may set: the key, the conflict rule and the restart rule are fixed. */
export type ProcessorPolicy<Error> = Omit<TaskPolicy.TaskPolicy<WatchItem.WatchItem, Error>, "key" | "keyConcurrency" | "onConflict" | "onRestart">

/** Defines a kind processing watched items; its name is what a watcher's `processor` names. */
export const define = <const Name extends string, Success extends Task.PlainSchema = typeof Schema.Void, Error extends Task.PlainSchema = Schema.Never>(
  name: Name,
  options: {
    readonly success?: Success | undefined
    readonly error?: Error | undefined
    readonly policy?: ProcessorPolicy<Error["Type"]> | undefined
  } = {}
): ProcessorKind<Name, Success, Error> =>
  Task.define(name, {
    payload: WatchItem.WatchItem,
    success: (options.success ?? Schema.Void) as Success,
    error: (options.error ?? Schema.Never) as Error,
    policy: {
      ...options.policy,
      key: WatchItem.taskKey,
      keyConcurrency: 1,
      onConflict: "join",
      onRestart: "resume"
    }
  }) as ProcessorKind<Name, Success, Error>

/**
 * Registers the handler of a processor kind: it runs in a transaction with the
 * record of its item's outcome, once per item (see the module's note). A
 * failure is recorded as the item's outcome too.
 */
export const implement = <K extends ProcessorKind, R>(
  kind: K,
  handler: (item: WatchItem.WatchItem) => Effect.Effect<Task.Success<K>, Task.Error<K>, R>
) => {
  const encode = Schema.encodeUnknownEffect(kind.success)
  const decode = Schema.decodeUnknownEffect(kind.success)
  return Task.implement(kind, (item: WatchItem.WatchItem) =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const id = WatchItem.id(item)
      const done = yield* WatchStore.getItem(item.watcher, id).pipe(Effect.orDie)
      if (Option.isSome(done) && done.value.status === "processed") {
        return (yield* Effect.orDie(decode(done.value.outcome))) as Task.Success<K>
      }
      const exit = yield* Effect.exit(sql.withTransaction(Effect.gen(function*() {
        const result = yield* handler(item)
        const encoded = yield* Effect.orDie(encode(result))
        const at = yield* Clock.currentTimeMillis
        yield* Effect.orDie(WatchStore.markFinished(item.watcher, id, { status: "processed", outcome: encoded ?? null, error: null, at }))
        return result
      })))
      if (Exit.isSuccess(exit)) return exit.value
      const at = yield* Clock.currentTimeMillis
      const error = Exit.findErrorOption(exit)
      const message = Option.isSome(error) && error.value instanceof Error ? error.value.message : String(Option.getOrUndefined(error) ?? "defect or interruption")
      if (!Exit.hasInterrupts(exit)) {
        yield* Effect.orDie(WatchStore.markFinished(item.watcher, id, { status: "failed", outcome: null, error: message, at }))
      }
      return yield* exit
    }).pipe(Effect.catchTag("SqlError", Effect.die))
  )
}
