/**
 * The task-change feed between runners (`ClusterFeed`) in one process, on the
 * real PostgreSQL: two runners' feeds, "a" and "b", each over a supervisor of
 * its own sharing one store and one channel, as `Runner` composes them. Faults
 * are injected where the database or the network would make them: a's
 * listener refused (an outage), b's notifications refused (lost on the way),
 * b's notifications held back on their way to a (late).
 */
import { PgClient, type PgConnection } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Context, Deferred, Effect, Fiber, Layer, Option, Queue, Redacted, Schema, type Scope, Stream } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlError } from "effect/sql"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { RecordOrder, Task, TaskContext, TaskFeed, TaskInfo, TaskInterest, Tasks, TasksConfig, TaskStore } from "@chainjobs/tasks"
import { ClusterFeed, Runner } from "@chainjobs/cluster"
import { pgTestUrl } from "./RunnerProcess.ts"

/** Reports each progress the test hands it, and completes when handed 100. */
const Stepped = Task.define("stepped", { payload: Schema.Struct({}), success: Schema.Void })

/** Faults injected into one runner's PostgreSQL client. */
interface Faults {
  /** LISTEN is refused, as by a database out of reach. */
  refuseListen: boolean
  /** Refuses the notifications this accepts, every attempt of each: they are lost. */
  refuseNotify: (payload: string) => boolean
  /** Notifications refused so far. */
  refused: number
  /** Notifications sent after the first refusal: one sent means the refused one was given up (they go one at a time). */
  sentAfterRefusal: number
  /** Other runners' notifications are held back until `release`. */
  hold: boolean
}

const refusal = () => new SqlError.SqlError({ reason: new SqlError.ConnectionError({ cause: new Error("refused by the test") }) })

/** `pg` with `faults` injected: what the feed of runner `name` sends and listens with. */
const faulty = (pg: PgClient.PgClient, faults: Faults, name: string) => {
  const held: Array<PgConnection.Notification> = []
  let current: Queue.Queue<PgConnection.Notification, SqlError.SqlError> | undefined
  const client: Pick<PgClient.PgClient, "listen" | "notify"> = {
    notify: (channel, payload) => {
      if (!faults.refuseNotify(payload)) {
        if (faults.refused > 0) faults.sentAfterRefusal++
        return pg.notify(channel, payload)
      }
      faults.refused++
      return Effect.fail(refusal())
    },
    listen: (channel) =>
      faults.refuseListen ? Effect.fail(refusal()) : Effect.gen(function*() {
        const source = yield* pg.listen(channel)
        const queue = yield* Queue.unbounded<PgConnection.Notification, SqlError.SqlError>()
        current = queue
        yield* Effect.forkScoped(
          Effect.forever(Effect.flatMap(Queue.take(source), (notification) =>
            Effect.sync(() => {
              if (faults.hold && !notification.payload.startsWith(`${name}\n`)) held.push(notification)
              else Queue.offerUnsafe(queue, notification)
            }))).pipe(Effect.catch((error) => Queue.fail(queue, error as SqlError.SqlError)))
        )
        return queue
      })
  }
  /** Hands the held notifications on, in the order they came. */
  const release = Effect.sync(() => {
    faults.hold = false
    for (const notification of held.splice(0)) if (current !== undefined) Queue.offerUnsafe(current, notification)
  })
  return { client, release }
}

let schemas = 0

/** A fresh schema of the test database, dropped when the scope closes. */
const freshSchema = Effect.gen(function*() {
  const schema = `cluster_feed_test_${process.pid}_${++schemas}`
  const admin = yield* client("public", "admin")
  yield* admin`CREATE SCHEMA ${admin(schema)}`
  yield* Effect.addFinalizer(() => Effect.ignore(admin`DROP SCHEMA ${admin(schema)} CASCADE`))
  return schema
})

/** A client of its own on `schema`, named in `pg_stat_activity` as `feed-test-<name>-<pid>`. */
const client = (schema: string, name: string) =>
  PgClient.make({
    url: Redacted.make(pgTestUrl ?? ""),
    maxConnections: 2,
    applicationName: applicationName(name),
    startupParameters: { search_path: schema }
  }).pipe(Effect.provide(Reactivity.layer), Effect.orDie)

const applicationName = (name: string) => `feed-test-${name}-${process.pid}`

/** One runner as `Runner` composes it, without the cluster's routing: a supervisor, its feed, and the feed's fan-out. */
const makeRunner = (schema: string, name: string, faults: Faults, steps: Queue.Queue<number>) =>
  Effect.gen(function*() {
    const store = yield* TaskStore.TaskStore
    const local = yield* Tasks.make.pipe(
      Effect.provideService(TasksConfig.TasksConfig, TasksConfig.make({ maxWorkers: 10 })),
      Effect.provideService(TaskStore.TaskStore, Runner.runnerView(store, name))
    )
    yield* local.register(Stepped, () =>
      Effect.gen(function*() {
        const context = yield* TaskContext.TaskContext
        for (;;) {
          const step = yield* Queue.take(steps)
          if (step >= 100) return
          yield* context.progress(step)
        }
      }), Context.empty())
    const pg = faulty(yield* client(schema, name), faults, name)
    // a wait for a final record reads it again every 200 ms here (5 s by default)
    const feed = yield* ClusterFeed.make({ local, origin: name, channel: ClusterFeed.channelOf(schema), pg: pg.client, finalRecheck: "200 millis" })
    // as `ClusterTasks` composes it: reads tell the feed, follows come from it
    const tasks = Tasks.Tasks.of({
      ...local,
      get: (id) => Effect.tap(local.get(id), feed.observed),
      changes: feed.changes,
      changesAndDeletions: feed.changesAndDeletions
    })
    // with the feed's interest, as a runner's service has it: a watch wants its task's records
    const fanOut = yield* TaskFeed.make().pipe(
      Effect.provideService(Tasks.Tasks, tasks),
      Effect.provideService(TaskInterest.TaskInterest, feed.interest)
    )
    return { local, feed, fanOut, release: pg.release }
  })

const noFaults = (): Faults => ({ refuseListen: false, refuseNotify: () => false, refused: 0, sentAfterRefusal: 0, hold: false })

/** Polls `check` every 50 ms until it holds, for at most 20 s. */
const eventually = <E, R>(check: Effect.Effect<boolean, E, R>, what: string) =>
  Effect.gen(function*() {
    while (!(yield* check)) yield* Effect.sleep("50 millis")
  }).pipe(within(() => `never: ${what}`))

/** Fails the test with `why` when `effect` takes more than 20 s. */
const within = (why: () => string) => <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.timeoutOrElse(effect, { duration: "20 seconds", orElse: () => Effect.die(new Error(why())) })

/** a and b on a fresh schema sharing one PostgreSQL store, with the faults each is given. */
const pair = Effect.gen(function*() {
  const schema = yield* freshSchema
  const faultsA = noFaults()
  const faultsB = noFaults()
  const steps = yield* Queue.unbounded<number>()
  const store = yield* Layer.build(SqlTaskStore.layer().pipe(
    Layer.provide(SqlTaskStore.layerPgClient({ url: Redacted.make(pgTestUrl ?? ""), maxConnections: 4, schema }))
  ))
  const inStore = <A, E>(effect: Effect.Effect<A, E, TaskStore.TaskStore | Scope.Scope>) => Effect.provideContext(effect, store)
  const a = yield* inStore(makeRunner(schema, "a", faultsA, steps))
  const b = yield* inStore(makeRunner(schema, "b", faultsB, steps))
  return { schema, a, b, faultsA, faultsB, steps }
})

/** Ends runner `name`'s listening connection, as an outage of the database or the network would. */
const cutListener = (schema: string, name: string) =>
  Effect.gen(function*() {
    const admin = yield* client(schema, "admin")
    const cut = yield* admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE application_name = ${applicationName(name)} AND query LIKE 'LISTEN%'`
    assert.strictEqual(cut.length, 1, "one listener")
  }).pipe(Effect.scoped)

/** Follows a task through a runner's fan-out (what REST, RPC `Watch` and the dashboard serve): its records, and whether the stream ended. */
const follow = (fanOut: TaskFeed.TaskFeed["Service"], id: string) =>
  Effect.gen(function*() {
    const records: Array<TaskInfo.TaskInfo> = []
    const first = yield* Deferred.make<void>()
    const fiber = yield* Effect.forkScoped(
      Stream.runForEach(fanOut.watch(id), (change) =>
        Effect.andThen(Effect.sync(() => records.push(change.info)), Deferred.succeed(first, undefined)))
    )
    yield* Deferred.await(first)
    return { records, ended: Effect.map(Fiber.await(fiber), () => records) }
  })

/** Whether runner `tasks` holds task `id` in status `status`. */
const statusIs = (tasks: Tasks.Tasks["Service"], id: string, status: TaskInfo.TaskInfo["status"]) =>
  Effect.map(Effect.orDie(tasks.get(id)), (info) => info.status === status)

describe.skipIf(pgTestUrl === undefined)("ClusterFeed", () => {
  it.live("a watch of a task that ran and ended while its runner's listener was down ends with the final record, and a task wholly inside the outage is announced", () =>
    Effect.gen(function*() {
      const { a, b, faultsA, schema, steps } = yield* pair
      const everything: Array<TaskFeed.Change> = []
      yield* Effect.forkScoped(Stream.runForEach(a.fanOut.all({ visible: () => true }), (item) =>
        Effect.sync(() => item._tag === "Change" && everything.push(item))))
      // a hears nothing from here on, until the database lets it listen again
      faultsA.refuseListen = true
      yield* cutListener(schema, "a")
      // A task on b, begun while a hears nothing: a's watch begins with a read of it.
      const watched = yield* b.local.submit(Stepped, {})
      yield* eventually(statusIs(b.local, watched.id, "running"), "the watched task runs")
      const watch = yield* follow(a.fanOut, watched.id)
      assert.strictEqual(watch.records[0]!.status, "running")
      // Another, begun and ended while a hears nothing.
      const unseen = yield* b.local.submit(Stepped, {})
      yield* Queue.offerAll(steps, [100, 100])
      yield* eventually(statusIs(b.local, watched.id, "completed"), "the watched task completes")
      yield* eventually(statusIs(b.local, unseen.id, "completed"), "the unseen task completes")
      faultsA.refuseListen = false
      const records = yield* watch.ended.pipe(within(() => `the watch never ended: ${JSON.stringify(watch.records)}`))
      assert.strictEqual(records[records.length - 1]!.status, "completed")
      yield* eventually(
        Effect.sync(() => everything.some((change) => change.info.id === unseen.id && change.info.status === "completed")),
        "a announces the task that ran wholly while it heard nothing"
      )
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a change lost on its way (its notification refused) is read again once the next notification shows a number missing", () =>
    Effect.gen(function*() {
      const { a, b, faultsB, steps } = yield* pair
      const task = yield* b.local.submit(Stepped, {})
      yield* eventually(statusIs(b.local, task.id, "running"), "the task runs")
      const watch = yield* follow(a.fanOut, task.id)
      // b's change notifications refused until the one telling the end has been given up (its retries spent):
      // then its counts go out, and a finds a number missing
      faultsB.refuseNotify = (payload) => payload.split("\n")[1]!.startsWith("c")
      yield* Queue.offer(steps, 100)
      yield* eventually(Effect.sync(() => faultsB.sentAfterRefusal > 0), "b gives the notification up")
      faultsB.refuseNotify = () => false
      const records = yield* watch.ended.pipe(within(() => `the watch never ended: ${JSON.stringify(watch.records)}`))
      assert.strictEqual(records[records.length - 1]!.status, "completed")
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a wait for a final record its runner committed but never told (killed or stopped before the notification) ends by reading it again", () =>
    Effect.gen(function*() {
      const { a, b, faultsB, steps } = yield* pair
      const task = yield* b.local.submit(Stepped, {})
      yield* eventually(statusIs(b.local, task.id, "running"), "the task runs")
      // a waits as a join on a runner that does not own the task does: its first read finds it running
      const waiting = yield* Effect.forkScoped(a.feed.finalRecord(task.id, a.local.awaitInfo(task.id)))
      yield* Effect.sleep("100 millis")
      // from here b tells nothing, as a runner killed right after its commit: no later number shows a gap
      faultsB.refuseNotify = () => true
      yield* Queue.offer(steps, 100)
      yield* eventually(statusIs(b.local, task.id, "completed"), "the task completes")
      const final = yield* Fiber.join(waiting).pipe(
        Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.die(new Error("the wait never ended: nothing re-read the committed record")) })
      )
      assert.strictEqual(Option.getOrThrow(final).status, "completed")
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live.prop(
    "a watch never hears an earlier record after a later one, though notifications arrive after a newer read",
    {
      progress: Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 99 }))).check(Schema.isMinLength(1), Schema.isMaxLength(5)),
      readAfter: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 5 }))
    },
    ({ progress, readAfter }) =>
      Effect.gen(function*() {
        const { a, b, faultsA, steps } = yield* pair
        // b's notifications held back on their way to a
        faultsA.hold = true
        const task = yield* b.local.submit(Stepped, {})
        yield* eventually(statusIs(b.local, task.id, "running"), "the task runs")
        let watch: { readonly records: Array<TaskInfo.TaskInfo>; readonly ended: Effect.Effect<Array<TaskInfo.TaskInfo>> } | undefined
        for (const [i, percent] of progress.entries()) {
          if (i === readAfter) watch = yield* follow(a.fanOut, task.id)
          yield* Queue.offer(steps, percent)
          yield* eventually(Effect.map(Effect.orDie(b.local.get(task.id)), (info) => info.heartbeatAt !== null && info.progress === percent), "the step is taken")
          // a heartbeat a millisecond later than the step before it: records of one attempt ordered by it
          yield* Effect.sleep("2 millis")
        }
        watch ??= yield* follow(a.fanOut, task.id)
        yield* Queue.offer(steps, 100)
        yield* eventually(statusIs(b.local, task.id, "completed"), "the task completes")
        yield* a.release
        const records = yield* watch!.ended.pipe(within(() => `the watch never ended: ${JSON.stringify(watch!.records)}`))
        for (let i = 1; i < records.length; i++) {
          assert.isAtMost(RecordOrder.compare(records[i - 1]!, records[i]!), 0, `record ${i} is earlier than ${i - 1}: ${JSON.stringify(records)}`)
        }
        assert.strictEqual(records[records.length - 1]!.status, "completed")
      }).pipe(Effect.scoped),
    { timeout: 120_000, arbitrary: { runs: 6 } }
  )
})
