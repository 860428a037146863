/**
 * Two runners' task-change feeds (`ClusterFeed`) in the test process, on the
 * real PostgreSQL: one fresh schema and channel per cluster, one task store
 * the runners share, each runner's own supervisor with the test kinds below
 * and its feed on a pool of its own. What `ClusterFeedDelivery.test.ts` and
 * `FinalInterest.test.ts` run.
 *
 * The faults a runner can inject are its `NOTIFY` switched off (`silence`),
 * which stands for notifications lost while the other's listener is down or
 * for a runner that stopped without a farewell, and its notifications of what
 * its followers want lost (`loseWants`).
 *
 * `twoRunners` is the setting of the tests of final records by interest: two
 * runners, waits read again only after an hour, and a listener of the test's
 * own hearing every notification of their channel.
 */
import { PgClient } from "@effect/sql-pg"
import { assert } from "@effect/vitest"
import { Clock, Deferred, Duration, Effect, Fiber, Layer, Option, Queue, Redacted, Schema, Stream } from "effect"
import { Reactivity } from "effect/reactivity"
import { SqlClient } from "effect/sql"
import type { TestClock } from "effect/testing"
import { ClusterFeed } from "@chainjobs/cluster"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { Task, TaskFeed, TaskInfo, TaskInterest, Tasks, TasksConfig, TaskStore } from "@chainjobs/tasks"
import { pgTestUrl } from "./RunnerProcess.ts"

let schemas = 0

/**
 * `clock` with `began` called, on the sleeping fiber, as each of its sleeps begins (given the sleep's duration): a test
 * learns that a sleep has begun however late its fiber runs — a test clock's `adjust` wakes only the sleeps begun
 * before it.
 */
export const onSleep = (clock: Clock.Clock, began: (duration: Duration.Duration) => void): Clock.Clock => ({
  currentTimeMillisUnsafe: () => clock.currentTimeMillisUnsafe(),
  currentTimeMillis: clock.currentTimeMillis,
  currentTimeNanosUnsafe: () => clock.currentTimeNanosUnsafe(),
  currentTimeNanos: clock.currentTimeNanos,
  monotonicTimeNanosUnsafe: () => clock.monotonicTimeNanosUnsafe(),
  monotonicTimeNanos: clock.monotonicTimeNanos,
  sleep: (duration) =>
    Effect.suspend(() => {
      began(duration)
      return clock.sleep(duration)
    })
})

/** A pool of `size` connections on `schema` of the test database, closed with the scope. */
export const pool = (schema: string, size: number) =>
  PgClient.make({ url: Redacted.make(pgTestUrl ?? ""), maxConnections: size, startupParameters: { search_path: schema } }).pipe(
    Effect.provide(Reactivity.layer)
  )

/** A fresh schema with the task store's tables, dropped at the end of the scope; its store and notification channel. */
export const freshCluster = Effect.gen(function*() {
  const schema = `feed_test_${process.pid}_${++schemas}`
  const admin = yield* pool("public", 1)
  yield* admin`CREATE SCHEMA ${admin(schema)}`
  yield* Effect.addFinalizer(() => Effect.ignore(admin`DROP SCHEMA ${admin(schema)} CASCADE`))
  const sql = yield* pool(schema, 4)
  const store = yield* Effect.provideService(SqlTaskStore.make(), SqlClient.SqlClient, sql)
  return { schema, store, channel: ClusterFeed.channelOf(schema), admin }
})

/** Echoes its text; waits first until the test opens the gate named by `gate`, when it has one. */
export const Echo = Task.define("echo", {
  payload: Schema.Struct({ text: Schema.String, gate: Schema.optionalKey(Schema.String) }),
  success: Schema.Number
})

/** Reports progress every 20 ms until the test opens the gate named by `gate`. */
export const Ticking = Task.define("ticking", { payload: Schema.Struct({ gate: Schema.String }), success: Schema.Void })

/**
 * The shared store as a runner's supervisor writes to it: every record it writes names the runner, as a cluster
 * runner's do, so that a record read back from the store says where it ran.
 */
export const writingAs = (store: TaskStore.TaskStore["Service"], runner: string): TaskStore.TaskStore["Service"] => {
  const named = (info: TaskInfo.TaskInfo): TaskInfo.TaskInfo => ({ ...info, runner })
  const { insertAll, updateAll } = store
  return {
    ...store,
    insert: (info) => store.insert(named(info)),
    update: (info) => store.update(named(info)),
    updateProgress: (info) => store.updateProgress(named(info)),
    ...(insertAll === undefined ? {} : { insertAll: (infos) => insertAll(infos.map(named)) }),
    ...(updateAll === undefined ? {} : { updateAll: (infos) => updateAll(infos.map(named)) })
  }
}

/** One runner: its own supervisor over the shared store, and its feed on a pool of its own, until the scope closes. */
export const makeRunner = (
  origin: string,
  cluster: { readonly store: TaskStore.TaskStore["Service"]; readonly channel: string; readonly schema: string },
  options: {
    readonly clock?: TestClock.TestClock
    /** How often the feed's waits read a final record again (`ClusterFeed.finalRecheck` if not given). */
    readonly finalRecheck?: Duration.Input
    /** How many final records nobody wanted the feed keeps per generation (`ClusterFeed.unsentLimit` if not given). */
    readonly unsentLimit?: number
    /** How many tasks known unfinished elsewhere and followed by nothing the feed keeps (`ClusterFeed.openLimit` if not given). */
    readonly openLimit?: number
    /** The shared store as the feed reads it (its reads again after a loss), e.g. with its reads counted. */
    readonly feedStore?: (store: TaskStore.TaskStore["Service"]) => TaskStore.TaskStore["Service"]
  } = {}
) =>
  Effect.gen(function*() {
    const gates = new Map<string, Deferred.Deferred<void>>()
    const gate = (name: string) => {
      let found = gates.get(name)
      if (found === undefined) gates.set(name, found = Deferred.makeUnsafe<void>())
      return found
    }
    const local = yield* Tasks.make.pipe(
      Effect.provideService(TaskStore.TaskStore, writingAs(cluster.store, origin)),
      Effect.provideService(TasksConfig.TasksConfig, TasksConfig.make({ shutdownGracePeriod: 0 }))
    )
    const echo = Task.implement(Echo, ({ gate: name, text }) =>
      Effect.as(name === undefined ? Effect.void : Deferred.await(gate(name)), text.length))
    const ticking = Task.implement(Ticking, ({ gate: name }, context) =>
      Effect.gen(function*() {
        for (let step = 1; !(yield* Deferred.isDone(gate(name))); step++) {
          yield* context.progress(step % 100, `step ${step}`)
          yield* Effect.sleep("20 millis")
        }
      }))
    yield* Effect.flatMap(Effect.scope, (scope) => Layer.buildWithScope(Layer.merge(echo, ticking), scope)).pipe(
      Effect.provideService(Tasks.Tasks, local)
    )
    const pg = yield* pool(cluster.schema, 2)
    // The one fault: this runner's notifications switched off.
    let silent = false
    let notifying = 0
    let wantsLost = false
    const lostWants: Array<string> = []
    /** A notification of what this runner's followers want: its second line starts with `w`. */
    const isWants = (payload: string) => payload[payload.indexOf("\n") + 1] === "w"
    const client = {
      listen: (channel: string) => pg.listen(channel),
      // silenced or lost when it runs (not when the feed made it), counted while PostgreSQL has not yet taken it
      notify: (channel: string, payload: string) =>
        Effect.suspend(() => {
          if (wantsLost && isWants(payload)) lostWants.push(payload)
          if (silent || (wantsLost && isWants(payload))) return Effect.void
          notifying++
          return Effect.ensuring(pg.notify(channel, payload), Effect.sync(() => void notifying--))
        })
    } as unknown as PgClient.PgClient
    const make = ClusterFeed.make({
      local,
      origin,
      channel: cluster.channel,
      pg: client,
      finalRecheck: options.finalRecheck,
      unsentLimit: options.unsentLimit,
      openLimit: options.openLimit
    }).pipe(
      Effect.provideService(TaskStore.TaskStore, options.feedStore?.(cluster.store) ?? cluster.store)
    )
    // With a test clock, the feed's timestamps and sleeps follow the test's `adjust`. Either clock counts the turns of
    // the feed's memory: each ends in a sleep of `finishedMemoryMillis` (its repetition's spacing), and none other is
    // that long, so a turn is known to have run once its sleep has begun (`memoryTurns`).
    let memoryTurns = 0
    const counted = onSleep(options.clock ?? (yield* Clock.clockWith(Effect.succeed)), (duration) => {
      if (Duration.toMillis(duration) === ClusterFeed.finishedMemoryMillis) memoryTurns++
    })
    const feed = yield* Effect.provideService(make, Clock.Clock, counted)
    return {
      origin,
      local,
      feed,
      open: (name: string) => Deferred.succeed(gate(name), undefined),
      silence: (on: boolean) => Effect.sync(() => void (silent = on)),
      /** How many of this runner's notifications are on their way to PostgreSQL now. */
      notifying: () => notifying,
      loseWants: (on: boolean) => Effect.sync(() => void (wantsLost = on)),
      /** The notifications of this runner's wants lost so far. */
      lostWants,
      /** How many turns of the feed's memory have run (the first as it starts, then one every `finishedMemoryMillis`). */
      memoryTurns: () => memoryTurns
    }
  })

/** The store with its reads of each task counted into `reads` (a runner's `feedStore`: what its feed reads again). */
export const counting = (reads: Map<string, number>) => (store: TaskStore.TaskStore["Service"]): TaskStore.TaskStore["Service"] => ({
  ...store,
  get: (id) => Effect.andThen(Effect.sync(() => reads.set(id, (reads.get(id) ?? 0) + 1)), store.get(id))
})

/** `runner`'s `TaskFeed` as a runner's service has it: over the cluster feed's changes, declaring its interest. */
export const serviceFeed = (runner: TestRunner) =>
  TaskFeed.make().pipe(
    Effect.provideService(
      Tasks.Tasks,
      Tasks.Tasks.of({ ...runner.local, changes: runner.feed.changes, changesAndDeletions: runner.feed.changesAndDeletions })
    ),
    Effect.provideService(TaskInterest.TaskInterest, runner.feed.interest)
  )

/** Collects a stream into an array in the background, readable at any time. */
export const collecting = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.gen(function*() {
    const seen: Array<A> = []
    const fiber = yield* Effect.forkScoped(Stream.runForEach(stream, (a) => Effect.sync(() => void seen.push(a))))
    return { seen, fiber }
  })

/** Waits (polling every 20 ms, at most 20 s) until `done` holds; fails the test with `detail()` otherwise. */
export const eventually = (done: () => boolean, detail: () => string) =>
  Effect.gen(function*() {
    while (!done()) yield* Effect.sleep("20 millis")
  }).pipe(
    Effect.timeout("20 seconds"),
    Effect.catchTag("TimeoutError", () => Effect.die(new Error(`never happened: ${detail()}`)))
  )

/**
 * Joins `fiber`, a join or a stream the test made end: at most 15 s (an end that takes a runner's silence, three
 * seconds, and a check after it), then fails the test saying what never ended, instead of hanging it to its bound.
 */
export const joined = <A, E>(fiber: Fiber.Fiber<A, E>, what: string) =>
  Fiber.join(fiber).pipe(
    Effect.timeout("15 seconds"),
    Effect.catchTag("TimeoutError", () => Effect.die(new Error(`never ended: ${what}`)))
  )

export type TestRunner = Effect.Success<ReturnType<typeof makeRunner>>

/**
 * `a`'s followers want every task's intermediate records (`TaskInterest`, declared until the scope closes), and `b`
 * is known to send them: a probe task of b's is heard running on a (b skips intermediate records nobody wants, and
 * hears a's wants a moment after they are declared).
 */
export const wantingAll = (a: TestRunner, b: TestRunner) =>
  Effect.gen(function*() {
    yield* a.feed.interest.all
    const probe = yield* collecting(a.feed.changes)
    for (let tries = 1; ; tries++) {
      const handle = yield* b.local.submit(Echo, { text: "probe" })
      yield* eventually(
        () => probe.seen.some((info) => info.id === handle.id && info.status === "completed"),
        () => `probe ${handle.id} not heard completed`
      )
      if (probe.seen.some((info) => info.id === handle.id && info.status === "running")) break
      if (tries === 50) assert.fail(`${b.origin} sent no intermediate record of ${tries} probes to ${a.origin}, which wants them`)
    }
    yield* Fiber.interrupt(probe.fiber)
  })

/** Both runners, waits read again only after an hour, and every notification of the channel as the test hears it. */
export const twoRunners = (options: { readonly unsentLimit?: number } = {}) =>
  Effect.gen(function*() {
    const cluster = yield* freshCluster
    const a = yield* makeRunner("runner-a:1", cluster, { finalRecheck: "1 hour", ...options })
    const b = yield* makeRunner("runner-b:2", cluster, { finalRecheck: "1 hour" })
    const listener = yield* pool(cluster.schema, 1)
    const notifications = yield* listener.listen(cluster.channel)
    /** Every notification heard: its sender, its kind (`c` changes, `w` wants, `s` counts, `g` farewell), its body. */
    const heard: Array<{ readonly from: string; readonly what: string; readonly body: string }> = []
    yield* Effect.forkScoped(Effect.forever(Effect.map(Effect.orDie(Queue.take(notifications)), ({ payload }) => {
      const [from, header] = payload.split("\n", 2)
      heard.push({ from: from!, what: header![0]!, body: payload.slice(from!.length + header!.length + 2) })
    })))
    /** The records `runner` sent of task `id`, in order. */
    const sentOf = (runner: TestRunner, id: string) =>
      heard.filter((notification) => notification.from === runner.origin && notification.what === "c")
        .flatMap((notification) => JSON.parse(notification.body) as ReadonlyArray<{ readonly i?: TaskInfo.TaskInfo }>)
        .flatMap((item) => item.i !== undefined && item.i.id === id ? [item.i] : [])
    const read = (id: string) => Effect.map(Effect.orDie(cluster.store.get(id)), Option.getOrThrow)
    /**
     * b's wait for task `id` of a's, forked: its first read is `first` (the store's record by default), and the wait
     * has begun once that read is done.
     */
    const waitOnB = (id: string, first: Effect.Effect<TaskInfo.TaskInfo> = read(id)) =>
      Effect.gen(function*() {
        const firstRead = yield* Deferred.make<void>()
        const fiber = yield* Effect.forkScoped(b.feed.finalRecord(id, Effect.tap(first, () => Deferred.succeed(firstRead, undefined))))
        yield* Deferred.await(firstRead)
        return fiber
      })
    /**
     * Waits until a has decided on every record of the tasks that ended before now: a marker task of a's that ends
     * after them, waited for on b, is sent, and so after all a sent of them (a's notifications reach a listener in
     * the order a sent them).
     */
    const aSettled = Effect.gen(function*() {
      const marker = yield* a.local.submit(Echo, { text: "marker", gate: "marker" })
      const waiting = yield* waitOnB(marker.id)
      yield* a.open("marker")
      assert.strictEqual(Option.getOrThrow(yield* Fiber.join(waiting)).status, "completed")
      yield* eventually(() => sentOf(a, marker.id).length > 0, () => "the marker's final record not sent")
    })
    return { cluster, a, b, heard, sentOf, read, waitOnB, aSettled }
  })
