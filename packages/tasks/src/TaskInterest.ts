/**
 * Who follows task changes here, told to whoever produces them: where changes
 * cost something to carry (a cluster, whose runners tell each other their
 * tasks' changes), a task's records (its `pending` and `running` records, its
 * progress and heartbeats, and in a cluster its final record too, unless a
 * wait for it wants it) need to travel only while some follower wants them;
 * deletions always do.
 *
 * A follower declares its interest for as long as its scope lasts: `TaskFeed`
 * declares `all` for every all-tasks subscriber (`/api/events`, RPC `WatchAll`
 * and `WatchChanges`) and `task` for every task stream. Without this service
 * (one process) nothing is declared, and every change reaches every follower
 * as before.
 *
 * @since 0.1.0
 */
import { Context, Effect, type Scope } from "effect"

/** Declarations of interest in task changes, each held for its scope. */
export class TaskInterest extends Context.Service<TaskInterest, {
  /** A follower here wants every task's intermediate records, until the scope closes. */
  readonly all: Effect.Effect<void, never, Scope.Scope>
  /** A follower here wants task `id`'s intermediate records, until the scope closes. */
  task(id: string): Effect.Effect<void, never, Scope.Scope>
}>()("@chainjobs/tasks/TaskInterest") {}

