/**
 * The supervisor's life around its tasks: recovery of what a dead process
 * left unfinished (at start, per kind as kinds register), the heartbeat
 * watchdog, the retention sweep, and the graceful shutdown. Each is a function
 * of the parts it works on, so a supervisor of a share of the tasks (one
 * owner's) can run them over its own share.
 */
import { Cause, Effect, Exit, Schedule } from "effect"
import type { Duration } from "effect"
import type { TaskStoreError } from "../TaskError.ts"
import type { TaskInfo } from "../TaskInfo.ts"
import type { PurgeFilter } from "../TaskQuery.ts"
import type { TaskStore } from "../TaskStore.ts"
import type { Admission } from "./admission.ts"
import { Entry, lost, type Registered, resumed } from "./entry.ts"
import { HeartbeatMissed, Shutdown } from "./stop.ts"

/** Records found unfinished at start whose kind has not registered yet, by kind. */
export class Dormant {
  private readonly byKind = new Map<string, Array<TaskInfo>>()

  /** Reads every unfinished record of the store. */
  static load(store: TaskStore["Service"]): Effect.Effect<Dormant, TaskStoreError> {
    return Effect.map(store.unfinished, (records) => {
      const dormant = new Dormant()
      for (const info of records) {
        const list = dormant.byKind.get(info.kind)
        if (list === undefined) dormant.byKind.set(info.kind, [info])
        else list.push(info)
      }
      return dormant
    })
  }

  /** Keeps a record until its kind registers (once). */
  add(info: TaskInfo): void {
    this.drop(info.id)
    const list = this.byKind.get(info.kind)
    if (list === undefined) this.byKind.set(info.kind, [info])
    else list.push(info)
  }

  /** Takes the records of a kind that just registered. */
  take(kind: string): ReadonlyArray<TaskInfo> {
    const list = this.byKind.get(kind) ?? []
    this.byKind.delete(kind)
    return list
  }

  /** Forgets one record (it was interrupted or deleted before its kind registered); true if it was here. */
  drop(id: string): boolean {
    for (const [kind, list] of this.byKind) {
      const index = list.findIndex((info) => info.id === id)
      if (index >= 0) {
        list.splice(index, 1)
        if (list.length === 0) this.byKind.delete(kind)
        return true
      }
    }
    return false
  }
}

/**
 * Takes back a record a dead process left unfinished: a pending one waits
 * again; a running one waits as its next attempt (resumed from its
 * checkpoint) if its kind resumes, else it fails as `lost`, as does a record
 * whose payload no longer decodes. `admit` holds and queues the new entry;
 * `finished` is told of a record that ended as `lost` once it is stored.
 * `runner` is the cluster runner this process is (`TasksConfig.runner`): every
 * record written or held from here on names it, as a submission's does.
 */
export const recover = (
  store: TaskStore["Service"],
  at: number,
  registered: Registered,
  adopted: TaskInfo,
  admit: (entry: Entry) => void,
  finished: (info: TaskInfo) => void,
  runner?: string
): Effect.Effect<void, TaskStoreError> => {
  const info = runner === undefined || adopted.runner === runner ? adopted : { ...adopted, runner }
  const kind = registered.kind
  const fail = (record: TaskInfo) => Effect.map(store.update(record), () => finished(record))
  const payload = registered.codec.decodePayload(info.payload)
  if (Exit.isFailure(payload)) {
    return fail(lost(info, kind, `the stored payload no longer decodes: ${Cause.pretty(payload.cause)}`, at))
  }
  if (info.status === "running" && kind.policy.onRestart === "fail") {
    return fail(lost(info, kind, "the process running the task stopped before it finished", at))
  }
  const record = resumed(info)
  const entry = new Entry(heldHere(record, runner), registered, payload.value)
  return Effect.map(record === info ? Effect.void : store.update(record), () => admit(entry))
}

/**
 * The record a process holds for a task it took back: without the runner that
 * ran it before, since it runs here now (in a cluster, `recover` named this
 * runner in it already).
 */
const heldHere = (record: TaskInfo, runner: string | undefined): TaskInfo => {
  if (record.runner === undefined || record.runner === runner) return record
  const { runner: _previous, ...held } = record
  return held
}

/** Every `interval`, asks running tasks silent for longer than their heartbeat timeout (the submission's, else the kind's) to stop. */
export const watchdog = (
  admission: Admission<Entry>,
  now: () => number,
  interval: Duration.Input
): Effect.Effect<never> => {
  const check = Effect.sync(() => {
    const at = now()
    for (const entry of admission.runningTasks()) {
      const limit = entry.heartbeatTimeoutMillis
      // not started yet (still being recorded, though recorded running): no attempt to be silent in
      if (limit === undefined || entry.fiber === undefined || entry.stoppedBy !== undefined || entry.backingOff) continue
      if (at - (entry.heartbeatAt ?? at) > limit) entry.stop(HeartbeatMissed)
    }
  })
  return Effect.repeat(check, Schedule.spaced(interval)).pipe(Effect.andThen(Effect.never))
}

/** Every `interval`, purges (with `purge`, which tells of each deletion) finished records past their retention; a failed sweep is logged and tried again next time. */
export const retentionSweep = (
  purge: (filter: PurgeFilter) => Effect.Effect<unknown, TaskStoreError>,
  now: () => number,
  interval: Duration.Input
): Effect.Effect<never> => {
  const sweep = Effect.suspend(() => purge({ expiredBy: now() })).pipe(
    Effect.catchCause((cause) => Effect.logWarning("chainjobs: retention sweep failed", cause))
  )
  return Effect.repeat(sweep, Schedule.spaced(interval)).pipe(Effect.andThen(Effect.never))
}

/**
 * The graceful shutdown: admission closes, running tasks get `gracePeriod`
 * to finish, the rest are asked to stop and awaited; tasks that never
 * started stay pending in the store for the next process, and their local
 * waiters are told (`forget`).
 */
export const shutdown = (options: {
  readonly admission: Admission<Entry>
  readonly gracePeriod: Duration.Input
  readonly awaitFinished: (entry: Entry) => Effect.Effect<void>
  readonly forget: (entry: Entry) => void
}): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { admission, awaitFinished } = options
    admission.close()
    const awaitAll = (list: ReadonlyArray<Entry>) => Effect.forEach(list, awaitFinished, { discard: true })
    yield* Effect.timeoutOption(awaitAll(admission.runningTasks()), options.gracePeriod)
    const remaining = admission.runningTasks()
    for (const entry of remaining) entry.stop(Shutdown)
    yield* awaitAll(remaining)
    for (const entry of admission.drain()) options.forget(entry)
  })
