/**
 * A runner's routing (`ClusterTasks`, `TaskEntity`) on one in-memory runner
 * (`InMemoryRunner.ts`: the memory store, effect's in-memory sharding, the
 * feed on the test database): fast enough for a mutation run to afford every
 * test for every mutant of both files. What `ClusterRouting.test.ts` and its
 * neighbours show on two whole runners (25 s a test), here as far as one
 * runner can show it: a submission through the entity recorded with the
 * caller's options and served until it ends (`Submit`, `Run`); one admitted
 * straight into the supervisor, or under its shard's guard once the shard
 * opened; refusals typed and recording nothing (an unknown kind, a bad
 * payload, a busy key, a shard not held, a runner closing); joins of a busy
 * key; interrupts and deletions; a task left unfinished by a runner that
 * stopped adopted and resumed by the next (`Adopt`), and a record read again
 * when the store refuses its first reads (`Adopt`, `Run`); a handle of a kind
 * the runner never registered; and singletons:
 * schedules, daemons, a daemon's tasks left over by an earlier run (pending
 * ones too, and no other task of its kind), and a daemon stopped while its
 * task is being recorded; and a shard whose left-over tasks were adopted
 * opening to submissions.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option, Schedule, type Scope, Stream } from "effect"
import { Sharding } from "effect/cluster"
import { ClusterTasks, TaskEntity } from "@chainjobs/cluster"
import type { TaskEvent } from "@chainjobs/tasks"
import { TaskError, TaskInfo, TaskStore } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { inMemorySharding } from "./InMemorySharding.ts"
import * as InMemoryRunner from "./InMemoryRunner.ts"
import { eventually, sameBucket } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

const { Gated, Keyed, Scan, Tick } = InMemoryRunner

/**
 * Runs `body` on a runner started over `store` (a fresh memory store unless given) and a sharding of its own, or
 * `view` of it (a fault: shards it says are not held).
 */
const onRunner = <A, E>(
  body: (runner: InMemoryRunner.InMemoryRunner, store: TaskStore.TaskStore["Service"]) => Effect.Effect<A, E, Scope.Scope | Sharding.Sharding>,
  options: InMemoryRunner.InMemoryRunnerOptions = {},
  given?: TaskStore.TaskStore["Service"],
  view?: (held: Sharding.Sharding["Service"]) => Sharding.Sharding["Service"]
) =>
  Effect.gen(function*() {
    const store = given ?? (yield* TaskStore.makeMemory)
    const runner = yield* InMemoryRunner.start(options).pipe(Effect.provideService(TaskStore.TaskStore, store))
    return yield* body(runner, store)
  }).pipe(
    Effect.scoped,
    Effect.provideServiceEffect(Sharding.Sharding, Effect.map(Sharding.Sharding, (held) => view?.(held) ?? held)),
    Effect.provide(inMemorySharding)
  )

/** A pending record of a scan of `payload` under `id`, left by a runner gone (never started here). */
const leftPending = (id: string, payload: { readonly gate: string; readonly to: number }): TaskInfo.TaskInfo =>
  record({ id, kind: Scan.name, payload, createdAt: Date.now(), runner: "gone:1" })

/**
 * Runs `body` on a runner over `store` beside a scan running on its own bucket entity (its gate `running/1`), given
 * that task's id and that entity's client; then ends the scan and checks that it ran once, at attempt 1: never handed
 * over by a restart of its entity (a defect in one of the entity's messages restarts it, handing over what it serves).
 */
const besideRunningTask = <E>(
  store: TaskStore.TaskStore["Service"],
  body: (
    runner: InMemoryRunner.InMemoryRunner,
    running: string,
    entity: ReturnType<Effect.Success<typeof TaskEntity.TaskEntity.client>>
  ) => Effect.Effect<void, E, Scope.Scope | Sharding.Sharding>
) =>
  onRunner((runner) =>
    Effect.gen(function*() {
      const { id } = yield* runner.tasks.submit(Scan, { gate: "running", to: 1 })
      yield* eventually(Effect.sync(() => runner.happenings.includes(`start ${id} 1 at 1`)), () => "the first task starts")
      yield* body(runner, id, (yield* TaskEntity.TaskEntity.client)(TaskEntity.placement({ id, kind: "scan", key: null })))
      yield* runner.open("running/1")
      assert.strictEqual(yield* (yield* runner.tasks.handle(id)).join, 1)
      assert.deepInclude(yield* runner.tasks.get(id), { status: "completed", attempt: 1 })
      assert.deepStrictEqual(runner.happenings.filter((h) => h.startsWith(`start ${id} `)), [`start ${id} 1 at 1`])
    }), {}, store)

/**
 * A view of the sharding in which the shard of unkeyed task `id` of kind `gated` is let go of (its entities not ended
 * yet, as while the cluster releases it).
 */
const notHolding = (id: string) => (held: Sharding.Sharding["Service"]): Sharding.Sharding["Service"] => {
  const shard = TaskEntity.shardOf(held, TaskEntity.placement({ id, kind: "gated", key: null })).toString()
  return { ...held, hasShardId: (s) => s.toString() !== shard && held.hasShardId(s) }
}

/** Whether an item of `changesAndDeletions` is a deletion. */
const isDeletion = (event: TaskInfo.TaskInfo | TaskEvent.Deleted): event is TaskEvent.Deleted => "_tag" in event && event._tag === "Deleted"

/** Waits until task `id` reads as `status` through `runner`. */
const statusIs = (runner: InMemoryRunner.InMemoryRunner, id: string, status: TaskInfo.TaskInfo["status"]) =>
  eventually(Effect.map(Effect.orDie(runner.tasks.get(id)), (info) => info.status === status), () => `${id} is ${status}`)

describe.skipIf(pgTestUrl === undefined)("ClusterTasks and TaskEntity on one in-memory runner", () => {
  it.live("a submission through the entity is recorded with the caller's options and served until it ends; its join, read and watch agree", () =>
    onRunner((runner) =>
      Effect.gen(function*() {
        const { entity, tasks } = runner
        const options = { owner: "alice", priority: 3, timeoutMillis: 60_000, heartbeatTimeoutMillis: 30_000, retries: 2 }
        const handle = yield* tasks.submit(Gated, { gate: "a" }, options)
        assert.strictEqual(handle.kind, "gated")
        yield* statusIs(runner, handle.id, "running")
        assert.deepInclude(yield* tasks.get(handle.id), { ...options, runner: InMemoryRunner.address, payload: { gate: "a" } })
        // its Run, sent by the Submit's handler once it recorded the task, is served
        yield* eventually(Effect.sync(() => entity.serving.has(handle.id)), () => "its Run is served")
        const watched = yield* Effect.forkChild(Stream.runCollect(tasks.watch(handle.id)), { startImmediately: true })
        const joined = yield* Effect.forkChild(handle.join, { startImmediately: true })
        assert.strictEqual((yield* tasks.stats).running, 1)
        yield* runner.open("a")
        assert.strictEqual(yield* Fiber.join(joined), "a")
        assert.strictEqual((yield* Fiber.join(watched)).at(-1)?.status, "completed")
        assert.strictEqual((yield* tasks.awaitInfo(handle.id)).status, "completed")
        yield* eventually(Effect.sync(() => entity.serving.size === 0 && entity.admittedHere.size === 0), () => "its Run ends")
        // a handle made again from its id reads the same task, and refuses another kind
        const again = yield* tasks.handle(handle.id)
        assert.strictEqual(yield* again.join, "a")
        const wrongKind = yield* Effect.flip(tasks.handle(handle.id, Keyed))
        assert.deepInclude(wrongKind, { _tag: "TaskNotFound", id: handle.id })
        assert.strictEqual(yield* tasks.run(Gated, { gate: "a" }), "a")
        const batch = yield* tasks.submitAll(Gated, [{ gate: "a" }, { gate: "a" }], { priority: 1 })
        assert.strictEqual(new Set(batch.map((h) => h.id)).size, 2)
        assert.deepStrictEqual(yield* Effect.forEach(batch, (h) => h.join), ["a", "a"])
        assert.deepStrictEqual((yield* tasks.get(batch[0]!.id)).priority, 1)
      })), { timeout: 60_000 })

  it.live("an encoded submission travels as it is; an unknown kind, a bad payload and a busy key are refused and record nothing; a join of a busy key answers the holder", () =>
    onRunner((runner) =>
      Effect.gen(function*() {
        const { tasks } = runner
        const encoded = yield* tasks.submitEncoded("gated", { gate: "e" })
        yield* runner.open("e")
        assert.strictEqual(yield* encoded.join, "e")
        assert.deepInclude(yield* Effect.flip(tasks.submitEncoded("nope", {})), { _tag: "UnknownTaskKind", kind: "nope" })
        assert.deepInclude(yield* Effect.flip(tasks.submitEncoded("gated", { gate: 1 })), { _tag: "InvalidPayload" })
        const holder = yield* tasks.submit(Keyed, { key: "k", gate: "k" })
        yield* statusIs(runner, holder.id, "running")
        assert.deepInclude(yield* Effect.flip(tasks.submit(Keyed, { key: "k", gate: "other" })), { _tag: "SubmitRejected" })
        const joined = yield* tasks.submit(Keyed, { key: "k", gate: "other" }, { onConflict: "join" })
        assert.strictEqual(joined.id, holder.id, "joined the holder")
        const listed = yield* tasks.list({})
        assert.deepStrictEqual(listed.items.map((info) => info.id).sort(), [encoded.id, holder.id].sort(), "nothing else recorded")
        yield* runner.open("k")
        assert.strictEqual(yield* joined.join, "k")
      })), { timeout: 60_000 })

  it.live("an interrupt stops a running task where it runs; a finished one's is nothing; a deletion removes the record and is told", () =>
    onRunner((runner) =>
      Effect.gen(function*() {
        const { tasks } = runner
        const journal = yield* Effect.forkChild(
          Stream.runCollect(Stream.takeUntil(tasks.changesAndDeletions, (event) => isDeletion(event))),
          { startImmediately: true }
        )
        const running = yield* tasks.submit(Gated, { gate: "never" })
        yield* statusIs(runner, running.id, "running")
        yield* tasks.interrupt(running.id)
        assert.strictEqual((yield* tasks.get(running.id)).status, "interrupted")
        yield* tasks.interrupt(running.id)
        const done = yield* tasks.submit(Gated, { gate: "d" })
        yield* runner.open("d")
        yield* done.join
        yield* tasks.delete(done.id)
        assert.deepInclude(yield* Effect.flip(tasks.get(done.id)), { _tag: "TaskNotFound" })
        const told = yield* Fiber.join(journal)
        assert.isTrue(told.some((event) => isDeletion(event) && event.info.id === done.id), "the deletion is told")
        assert.deepInclude(yield* Effect.flip(tasks.interrupt("no-such-task")), { _tag: "TaskNotFound" })
      })), { timeout: 60_000 })

  it.live("with direct admission and local placement a submission skips the entity; one of a closed shard waits for it and is admitted under its guard", () =>
    onRunner((runner) =>
      Effect.gen(function*() {
        const { admission, entity, tasks } = runner
        const direct = yield* tasks.submit(Gated, { gate: "g" })
        yield* statusIs(runner, direct.id, "running")
        assert.isFalse(entity.serving.has(direct.id), "no Run: admitted straight into the supervisor")
        assert.strictEqual(yield* admission.known, 1)
        // a caller-chosen id on a shard closed now: through the entity, whose Submit waits for the adoption to open it
        const sharding = yield* Sharding.Sharding
        const id = TaskInfo.makeId(Date.now())
        const shard = TaskEntity.shardOf(sharding, TaskEntity.placement({ id, kind: "gated", key: null }))
        entity.openShards.close(shard)
        const late = yield* tasks.submit(Gated, { gate: "g" }, { id })
        assert.strictEqual(late.id, id)
        yield* statusIs(runner, id, "running")
        assert.isFalse(entity.serving.has(id), "admitted under the guard: no Run")
        assert.strictEqual(yield* admission.known, 2)
        yield* runner.open("g")
        assert.deepStrictEqual([yield* direct.join, yield* late.join], ["g", "g"])
      }), { directAdmission: true, localPlacement: true }), { timeout: 60_000 })

  it.live("a runner closing refuses submissions as shutting down and leaves its served tasks pending", () =>
    onRunner((runner) =>
      Effect.gen(function*() {
        const { entity, tasks } = runner
        const served = yield* tasks.submit(Gated, { gate: "never" })
        yield* statusIs(runner, served.id, "running")
        yield* entity.close
        assert.isTrue(entity.closing())
        assert.strictEqual((yield* tasks.get(served.id)).status, "pending", "handed over: left for the next owner")
        assert.deepInclude(yield* Effect.flip(tasks.submit(Gated, { gate: "late" })), { _tag: "SubmitRejected", reason: "shutting-down" })
      })), { timeout: 60_000 })

  it.live("a closing runner adopts nothing: an Adopt reaching it leaves the task's record to the next owner", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const id = TaskInfo.makeId(Date.now())
      yield* onRunner((runner) =>
        Effect.gen(function*() {
          const shard = TaskEntity.shardOf(yield* Sharding.Sharding, TaskEntity.placement({ id, kind: "scan", key: null }))
          yield* eventually(Effect.sync(() => runner.entity.openShards.isOpen(shard)), () => "its shard opens")
          // written after its shard opened: no adoption reads it, the Adopt below is its only way in
          yield* store.insert(leftPending(id, { gate: "left", to: 1 }))
          yield* runner.entity.close
          yield* (yield* TaskEntity.TaskEntity.client)(TaskEntity.placement({ id, kind: "scan", key: null })).Adopt({ id })
          assert.deepInclude(Option.getOrThrow(yield* store.get(id)), { status: "pending", runner: "gone:1" })
        }), {}, store)
    }), { timeout: 60_000 })

  it.live("a task a stopped runner left unfinished is adopted by the next and resumed from its checkpoint; a finished one is left alone", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const scan = TaskInfo.makeId(Date.now())
      const done = TaskInfo.makeId(Date.now())
      yield* onRunner((first) =>
        Effect.gen(function*() {
          yield* first.tasks.submit(Scan, { gate: "s", to: 2 }, { id: scan })
          yield* first.open("s/1")
          yield* eventually(
            Effect.map(Effect.orDie(first.tasks.get(scan)), (info) => (info.checkpoint as { next?: number } | null)?.next === 2),
            () => "the scan saves its first step"
          )
          const finished = yield* first.tasks.submit(Gated, { gate: "f" }, { id: done })
          yield* first.open("f")
          yield* finished.join
        }), {}, store)
      assert.strictEqual(Option.getOrThrow(yield* store.get(scan)).status, "pending", "left pending by the stop")
      yield* onRunner((next) =>
        Effect.gen(function*() {
          yield* eventually(Effect.sync(() => next.happenings.includes(`start ${scan} 2 at 2`)), () => `the scan resumes: ${next.happenings}`)
          yield* eventually(Effect.sync(() => next.entity.serving.has(scan)), () => "adopted, its Run served")
          yield* next.open("s/2")
          assert.strictEqual(yield* (yield* next.tasks.handle(scan)).join, 2)
          assert.strictEqual((yield* next.tasks.get(done)).attempt, 1, "the finished task was not run again")
        }), {}, store)
    }), { timeout: 60_000 })

  it.live("a submission whose shard is not held is refused, after its tries, as the store's unavailability, and records nothing", () => {
    const id = TaskInfo.makeId(Date.now())
    return onRunner((runner, store) =>
      Effect.gen(function*() {
        const refused = yield* Effect.flip(runner.tasks.submit(Gated, { gate: "g" }, { id }))
        assert.deepInclude(refused, { _tag: "TaskStoreError" })
        assert.isTrue(Option.isNone(yield* store.get(id)), "nothing recorded")
      }), {}, undefined, notHolding(id))
  }, { timeout: 60_000 })

  it.live("a closing runner refuses a submission as shutting down at once, also one whose shard it no longer holds", () => {
    const id = TaskInfo.makeId(Date.now())
    return onRunner((runner, store) =>
      Effect.gen(function*() {
        yield* runner.entity.close
        // not its shard's refusal (NotAdmitted, sent again and told as the store's unavailability): the runner's
        assert.deepInclude(yield* Effect.flip(runner.tasks.submit(Gated, { gate: "g" }, { id })), {
          _tag: "SubmitRejected",
          reason: "shutting-down"
        })
        assert.isTrue(Option.isNone(yield* store.get(id)), "nothing recorded")
      }), {}, undefined, notHolding(id))
  }, { timeout: 60_000 })

  it.live("a submission refused as its shard is not held tells how long its owner waited for the shard: no longer than the call took", () => {
    const id = TaskInfo.makeId(Date.now())
    return onRunner((runner) =>
      Effect.gen(function*() {
        const before = Date.now()
        const refused = yield* Effect.flip(runner.tasks.submit(Gated, { gate: "g" }, { id }))
        const took = Date.now() - before
        assert.deepInclude(refused, { _tag: "TaskStoreError", operation: "submit" })
        const refusal = (refused as TaskError.TaskStoreError).cause as { readonly _tag: string; readonly waitedMillis: number }
        assert.strictEqual(refusal._tag, "NotAdmitted")
        assert.isAtLeast(refusal.waitedMillis, 0)
        assert.isAtMost(refusal.waitedMillis, took, "the owner's wait is part of the call's time")
      }), {}, undefined, notHolding(id))
  }, { timeout: 60_000 })

  it.live("a schedule runs its ticks on the runner holding its singleton; a daemon keeps its task running, ends one an earlier run left, and interrupts its own when stopped", () =>
    onRunner((runner) =>
      Effect.gen(function*() {
        const { tasks } = runner
        const recurring = yield* tasks.schedule(Tick, { n: 1 }, { schedule: Schedule.spaced("20 millis") })
        yield* eventually(Effect.sync(() => runner.happenings.filter((h) => h.startsWith("tick")).length >= 2), () => "two ticks")
        assert.isTrue(Option.isSome(yield* recurring.lastTask))
        yield* recurring.cancel
        // a task of the daemon's left by an earlier run of it (its id carries the daemon's name)
        const singleton = ClusterTasks.singletonNameOf("daemon", "gated", { gate: "never" })
        const leftOver = ClusterTasks.daemonTaskId(singleton, Date.now())
        assert.isTrue(ClusterTasks.isDaemonTask(singleton, leftOver))
        yield* tasks.submit(Gated, { gate: "never" }, { id: leftOver })
        yield* statusIs(runner, leftOver, "running")
        const daemon = yield* tasks.daemon(Gated, { gate: "never" }, { restart: Schedule.spaced("100 millis") })
        yield* eventually(Effect.map(daemon.current, Option.isSome), () => "the daemon starts its task")
        const current = Option.getOrThrow(yield* daemon.current)
        assert.notStrictEqual(current, leftOver)
        assert.isTrue(ClusterTasks.isDaemonTask(singleton, current))
        assert.strictEqual((yield* tasks.get(leftOver)).status, "interrupted", "the earlier run's task ended first")
        assert.strictEqual(yield* daemon.starts, 1)
        yield* statusIs(runner, current, "running")
        yield* daemon.stop
        yield* statusIs(runner, current, "interrupted")
        yield* eventually(Effect.map(daemon.current, Option.isNone), () => "the stopped daemon has no task")
      })), { timeout: 60_000 })

  it.live("a handle made from a task's id with its kind reads, follows and interrupts the task through the cluster", () =>
    onRunner((runner) =>
      Effect.gen(function*() {
        const { tasks } = runner
        const { id } = yield* tasks.submit(Gated, { gate: "never" })
        yield* statusIs(runner, id, "running")
        const handle = yield* tasks.handle(id, Gated)
        assert.strictEqual(handle.kind, "gated")
        assert.strictEqual(yield* handle.status, "running")
        const followed = yield* Effect.forkChild(Stream.runCollect(handle.events), { startImmediately: true })
        yield* handle.interrupt
        assert.strictEqual((yield* Fiber.join(followed)).at(-1)?.status, "interrupted")
        assert.strictEqual((yield* tasks.get(id)).status, "interrupted")
      })), { timeout: 60_000 })

  it.live("a schedule cancelled tells no last task", () =>
    onRunner((runner) =>
      Effect.gen(function*() {
        const recurring = yield* runner.tasks.schedule(Tick, { n: 2 }, { schedule: Schedule.spaced("20 millis") })
        yield* eventually(Effect.map(recurring.lastTask, Option.isSome), () => "a tick submitted")
        yield* recurring.cancel
        assert.isTrue(Option.isNone(yield* recurring.lastTask))
      })), { timeout: 60_000 })

  it.live("an Adopt and a Run whose reads of the record the store refuses twice try again, and the entity's other task keeps running", () =>
    Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      /** Reads of each id in it refused while its count lasts (a passing fault: a connection lost, a failover). */
      const refusals = new Map<string, number>()
      const store: TaskStore.TaskStore["Service"] = {
        ...memory,
        get: (id) =>
          Effect.suspend(() => {
            const left = refusals.get(id) ?? 0
            if (left === 0) return memory.get(id)
            refusals.set(id, left - 1)
            return Effect.fail(new TaskError.TaskStoreError({ operation: "get", detail: "refused by the test" }))
          })
      }
      yield* besideRunningTask(store, (runner, running, entity) =>
        Effect.gen(function*() {
          // two records of its bucket entity left unfinished by a runner gone (`sameBucket`), written after its shard
          // opened: no adoption reads them, the messages sent below are their only way in
          const adopted = sameBucket(running)
          const served = sameBucket(adopted)
          for (const id of [adopted, served]) {
            yield* memory.insert(leftPending(id, { gate: id, to: 1 }))
            refusals.set(id, 2)
          }
          // answered once the supervisor holds it: its two refused reads tried again within the Adopt
          yield* entity.Adopt({ id: adopted })
          // a Run of a record not held here reads it first; a read failing there for good would be a defect
          yield* entity.Run({ id: served }, { discard: true })
          yield* eventually(
            Effect.sync(() => [adopted, served].every((id) => runner.happenings.some((h) => h.startsWith(`start ${id} `)))),
            () => `both left records start: ${runner.happenings}`
          )
          assert.deepStrictEqual([refusals.get(adopted), refusals.get(served)], [0, 0])
          for (const id of [adopted, served]) yield* runner.open(`${id}/1`)
          for (const id of [adopted, served]) assert.strictEqual(yield* (yield* runner.tasks.handle(id)).join, 1)
        }))
    }), { timeout: 60_000 })

  it.live("a handle of a kind this runner never registered reads its task and awaits it as interrupted", () =>
    onRunner((runner, store) =>
      Effect.gen(function*() {
        // finished on a runner that registers a kind this one does not (a rolling upgrade)
        const id = TaskInfo.makeId(Date.now())
        yield* store.insert({ ...leftPending(id, { gate: "", to: 1 }), kind: "elsewhere", status: "completed", finishedAt: Date.now() })
        const handle = yield* runner.tasks.handle(id)
        assert.strictEqual(handle.kind, "elsewhere")
        assert.strictEqual(yield* handle.status, "completed")
        // no Schema to decode its result with: its outcome is told as an interruption, not decoded
        assert.isTrue(Exit.hasInterrupts(yield* handle.await))
      })), { timeout: 60_000 })

  it.live("a stopped daemon tells no task and no starts", () =>
    onRunner((runner) =>
      Effect.gen(function*() {
        const daemon = yield* runner.tasks.daemon(Gated, { gate: "never" }, { restart: Schedule.spaced("100 millis") })
        yield* eventually(Effect.map(daemon.current, Option.isSome), () => "the daemon starts its task")
        assert.strictEqual(yield* daemon.starts, 1)
        yield* daemon.stop
        // its run ended on this runner: what it reads now is no run's
        yield* eventually(Effect.map(daemon.current, Option.isNone), () => "the stopped daemon has no task")
        assert.strictEqual(yield* daemon.starts, 0)
      })), { timeout: 60_000 })

  it.live("a Run of a task whose record is gone ends, and the entity's other task keeps running", () =>
    Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      /** The reads of each id: the Run's read of the record tells that it was served. */
      const reads = new Map<string, number>()
      const store: TaskStore.TaskStore["Service"] = {
        ...memory,
        get: (id) => Effect.suspend(() => (reads.set(id, (reads.get(id) ?? 0) + 1), memory.get(id)))
      }
      yield* besideRunningTask(store, (runner, running, entity) =>
        Effect.gen(function*() {
          // a task of its bucket entity deleted before its Run came (or never recorded): nothing to serve
          const gone = sameBucket(running)
          yield* entity.Run({ id: gone }, { discard: true })
          yield* eventually(
            Effect.sync(() => (reads.get(gone) ?? 0) > 0 && !runner.entity.serving.has(gone)),
            () => `the Run of the task gone read it (${reads.get(gone) ?? 0} reads) and ended`
          )
        }))
    }), { timeout: 60_000 })

  it.live("an Await sent to a task's entity answers its final record: once it ends, or at once when it has", () =>
    onRunner((runner) =>
      Effect.gen(function*() {
        const { id } = yield* runner.tasks.submit(Gated, { gate: "awaited" })
        yield* statusIs(runner, id, "running")
        // what another runner's join asks the owner should its feed end first (`ClusterTasks.awaitOwner`)
        const entity = (yield* TaskEntity.TaskEntity.client)(TaskEntity.placement({ id, kind: "gated", key: null }))
        const waiting = yield* Effect.forkChild(entity.Await({ id }), { startImmediately: true })
        yield* runner.open("awaited")
        assert.deepInclude(yield* Fiber.join(waiting), { id, status: "completed" })
        assert.deepInclude(yield* entity.Await({ id }), { id, status: "completed" })
      })), { timeout: 60_000 })

  it.live("a wait for a task held elsewhere whose feed's read again fails asks its owner until the task has ended", () => {
    const id = TaskInfo.makeId(Date.now())
    return Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      /** The reads of `id`: the second, the feed's read again after `finalRecheck`, is refused (a passing fault). */
      let reads = 0
      const store: TaskStore.TaskStore["Service"] = {
        ...memory,
        get: (read) =>
          Effect.suspend(() => {
            if (read !== id) return memory.get(read)
            reads++
            return reads === 2
              ? Effect.fail(new TaskError.TaskStoreError({ operation: "get", detail: "refused by the test" }))
              : memory.get(read)
          })
      }
      // running on a runner gone from this test's view: its shard not held here, so no adoption takes it
      const running = record({ id, kind: Gated.name, payload: { gate: "elsewhere" }, status: "running", runner: "gone:1", createdAt: Date.now() })
      yield* memory.insert(running)
      yield* onRunner((runner) =>
        Effect.gen(function*() {
          const waiting = yield* Effect.forkChild(runner.tasks.awaitInfo(id), { startImmediately: true })
          // past the refused read the wait asks the task's owner (`Await`), which answers the running record, and reads
          // again: at least two reads after it
          yield* eventually(Effect.sync(() => reads >= 4), () => `the wait reads the record again after the refused read (${reads} reads)`)
          yield* memory.update({ ...running, status: "completed" })
          assert.deepInclude(yield* Fiber.join(waiting), { id, status: "completed" })
        }), {}, store, notHolding(id))
    })
  }, { timeout: 60_000 })

  it.live("a Run delivered again for a task being served is answered at once, and the task runs once", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      yield* besideRunningTask(store, (_runner, running, entity) =>
        Effect.gen(function*() {
          // a second Run (a task submitted here, then adopted; a redelivery): the first one serves it already. Bounded
          // with a clear failure rather than left to hang until the test's own bound.
          const again = yield* Effect.timeoutOption(entity.Run({ id: running }), "20 seconds")
          assert.isTrue(Option.isSome(again), "a second Run of a served task is answered while the task runs")
        }))
    }), { timeout: 60_000 })

  it.live("a schedule and a daemon are the cluster's singletons named for what they are, their kind and payload", () => {
    const registered: Array<string> = []
    /** The sharding, its singletons' names noted as they are registered. */
    const view = (held: Sharding.Sharding["Service"]): Sharding.Sharding["Service"] => ({
      ...held,
      registerSingleton: (name, run, options) => Effect.andThen(Effect.sync(() => registered.push(name)), held.registerSingleton(name, run, options))
    })
    return onRunner((runner) =>
      Effect.gen(function*() {
        // every runner of every version names them alike: one runs cluster-wide
        const recurring = yield* runner.tasks.schedule(Tick, { n: 3 }, { schedule: Schedule.spaced("1 hour") })
        const daemon = yield* runner.tasks.daemon(Gated, { gate: "never" }, { restart: Schedule.spaced("1 hour") })
        // spelt out, not made by singletonNameOf: a change to the names themselves must fail here
        assert.deepStrictEqual(registered, ['chainjobs/schedule/tick/{"n":3}', 'chainjobs/daemon/gated/{"gate":"never"}'])
        yield* recurring.cancel
        yield* daemon.stop
      }), {}, undefined, view)
  }, { timeout: 60_000 })

  it.live("a daemon starting ends its earlier run's task though still pending, and no other task of its kind", () =>
    onRunner((runner) =>
      Effect.gen(function*() {
        const { tasks } = runner
        // a task of the daemon's kind submitted by hand holds the only worker: it is no daemon's
        const byHand = yield* tasks.submit(Gated, { gate: "never" })
        yield* statusIs(runner, byHand.id, "running")
        // the earlier run's task, waiting for that worker
        const singleton = ClusterTasks.singletonNameOf("daemon", "gated", { gate: "never" })
        const leftOver = ClusterTasks.daemonTaskId(singleton, Date.now())
        yield* tasks.submit(Gated, { gate: "never" }, { id: leftOver })
        assert.strictEqual((yield* tasks.get(leftOver)).status, "pending")
        const daemon = yield* tasks.daemon(Gated, { gate: "never" }, { restart: Schedule.spaced("1 hour") })
        yield* eventually(Effect.map(daemon.current, Option.isSome), () => "the daemon submits its task")
        assert.strictEqual((yield* tasks.get(leftOver)).status, "interrupted", "the earlier run's pending task ended first")
        assert.strictEqual((yield* tasks.get(byHand.id)).status, "running", "the task submitted by hand runs on")
        yield* daemon.stop
      }), { maxWorkers: 1 }), { timeout: 60_000 })

  it.live("a daemon stopped while its task is being recorded interrupts that task once recorded and submits nothing more", () =>
    Effect.gen(function*() {
      const singleton = ClusterTasks.singletonNameOf("daemon", "gated", { gate: "never" })
      const memory = yield* TaskStore.makeMemory
      // the daemon's insert tells its id and waits for the test, as a slow database makes it
      const inserting = yield* Deferred.make<string>()
      const insertable = yield* Deferred.make<void>()
      const store: TaskStore.TaskStore["Service"] = {
        ...memory,
        insert: (info) =>
          ClusterTasks.isDaemonTask(singleton, info.id)
            ? Effect.andThen(Deferred.succeed(inserting, info.id), Effect.andThen(Deferred.await(insertable), memory.insert(info)))
            : memory.insert(info)
      }
      yield* onRunner((runner) =>
        Effect.gen(function*() {
          const daemon = yield* runner.tasks.daemon(Gated, { gate: "never" }, { restart: Schedule.spaced("100 millis") })
          const id = yield* Deferred.await(inserting)
          yield* daemon.stop
          yield* Deferred.succeed(insertable, undefined)
          yield* statusIs(runner, id, "interrupted")
          const page = yield* runner.tasks.list({ kind: ["gated"] })
          assert.deepStrictEqual(page.items.map((info) => info.id), [id], "nothing submitted after the stop")
        }), {}, store)
    }), { timeout: 60_000 })

  it.live("a shard whose left-over tasks are adopted opens: a submission to it is admitted", () =>
    Effect.gen(function*() {
      const store = yield* TaskStore.makeMemory
      const leftOver = TaskInfo.makeId(Date.now())
      yield* store.insert(leftPending(leftOver, { gate: "left", to: 1 }))
      yield* onRunner((runner) =>
        Effect.gen(function*() {
          yield* eventually(Effect.sync(() => runner.entity.serving.has(leftOver)), () => "the left-over scan adopted, its Run served")
          // its shard's: admitted once the shard opens, which only the adoption of its records does
          const { id } = yield* runner.tasks.submit(Gated, { gate: "g" }, { id: sameBucket(leftOver) })
          yield* statusIs(runner, id, "running")
          yield* runner.open("g")
          yield* runner.open("left/1")
        }), {}, store)
    }), { timeout: 60_000 })

  it.live("a shard one of whose left-over tasks cannot be adopted yet stays closed, and opens once it is", () =>
    Effect.gen(function*() {
      const memory = yield* TaskStore.makeMemory
      // two left-over scans of one bucket entity, so one shard: the reads of the second refused while `refusing`
      const readable = TaskInfo.makeId(Date.now())
      const refused = sameBucket(readable)
      let refusing = true
      let refusals = 0
      const store: TaskStore.TaskStore["Service"] = {
        ...memory,
        get: (id) =>
          Effect.suspend(() => {
            if (id !== refused || !refusing) return memory.get(id)
            refusals++
            return Effect.fail(new TaskError.TaskStoreError({ operation: "get", detail: "refused by the test" }))
          })
      }
      for (const id of [readable, refused]) yield* memory.insert(leftPending(id, { gate: id, to: 1 }))
      yield* onRunner((runner) =>
        Effect.gen(function*() {
          const shard = TaskEntity.shardOf(yield* Sharding.Sharding, TaskEntity.placement({ id: readable, kind: "scan", key: null }))
          // the first Adopt of `refused` failed after its tries (six reads): the adoption tries it again, or (wrongly)
          // opens the shard without it
          yield* eventually(
            Effect.sync(() => refusals > 6 || runner.entity.openShards.isOpen(shard)),
            () => `the adoption tries the refused record again (${refusals} reads)`
          )
          assert.isFalse(runner.entity.openShards.isOpen(shard), "not open while one of its left-over tasks is not adopted")
          refusing = false
          yield* eventually(Effect.sync(() => runner.entity.openShards.isOpen(shard)), () => "the shard opens once both are adopted")
          yield* eventually(
            Effect.sync(() => [readable, refused].every((id) => runner.happenings.some((h) => h.startsWith(`start ${id} `)))),
            () => `both left-over scans start: ${runner.happenings}`
          )
          for (const id of [readable, refused]) yield* runner.open(`${id}/1`)
        }), {}, store)
    }), { timeout: 60_000 })
})
