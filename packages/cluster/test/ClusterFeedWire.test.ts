/**
 * One runner's task-change feed (`ClusterFeed`) against another runner's
 * notifications as they come over the wire: the real PostgreSQL `LISTEN` /
 * `NOTIFY` on a channel of its own per test, the feed of runner "a" over a
 * real supervisor and the memory task store, and the other runner "x" played
 * by the test, which writes the feed's wire format by hand
 * (`<from>\n<kind><session>.<number>.<sentAt>\n<body>`) and reads what a
 * sends. Writing the notifications by hand is how the faults a real runner
 * rarely makes on demand are injected: a number repeated or skipped, a new
 * session, an earlier record after a later one, a farewell, a record sent by
 * its id that has gone from the store, counts and wants that grow stale.
 * Stale and lapsed things need time to pass: a's clock is the real one that
 * the test may step forward (`jump`), as a runner's clock steps; its sleeps
 * and schedules keep real time.
 *
 * Each test takes well under a second or two: no schema, no second runner,
 * so that a mutation run can afford every test for every mutant of the feed.
 */
import { PgClient } from "@effect/sql-pg"
import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Deferred, Duration, Effect, Exit, Fiber, Option, Queue, Redacted, Schema, Scope, Stream } from "effect"
import { Reactivity } from "effect/reactivity"
import { TestClock } from "effect/testing"
import { SqlError } from "effect/sql"
import { ClusterFeed, Runner } from "@chainjobs/cluster"
import { Task, TaskContext, TaskError, type TaskEvent, TaskInfo, Tasks, TasksConfig, TaskStore } from "@chainjobs/tasks"
import { joined, onSleep } from "./FeedRunners.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/** Waits for its gate (named by the payload), reporting each progress the test hands it; 100 completes it. */
const Gated = Task.define("gated", { payload: Schema.Struct({ gate: Schema.String }), success: Schema.Void })

/** A client of the test database with connections of its own, closed with the scope. */
const connect = PgClient.make({ url: Redacted.make(pgTestUrl ?? ""), maxConnections: 2 }).pipe(
  Effect.provide(Reactivity.layer),
  Effect.orDie
)

/**
 * The real clock, stepped forward by `jump`: the feed's timestamps (ages of counts, wants and peers) jump with it,
 * its sleeps and schedules do not. `hold` stops it where it is (`jump` still steps it): an age then changes only by
 * the test's jumps, however long the machine takes between two steps of the test.
 */
const steppingClock = (real: Clock.Clock) => {
  let offset = 0
  let held: number | undefined
  const millis = () => held ?? real.currentTimeMillisUnsafe() + offset
  const nanos = () => held !== undefined ? BigInt(held) * 1_000_000n : real.currentTimeNanosUnsafe() + BigInt(offset) * 1_000_000n
  const clock: Clock.Clock = {
    currentTimeMillisUnsafe: millis,
    currentTimeMillis: Effect.sync(millis),
    currentTimeNanosUnsafe: nanos,
    currentTimeNanos: Effect.sync(nanos),
    monotonicTimeNanosUnsafe: () => real.monotonicTimeNanosUnsafe(),
    monotonicTimeNanos: real.monotonicTimeNanos,
    sleep: (duration) => real.sleep(duration)
  }
  return {
    clock,
    now: millis,
    jump: (by: number) =>
      Effect.sync(() => {
        offset += by
        if (held !== undefined) held += by
      }),
    hold: Effect.sync(() => void (held = millis()))
  }
}

/**
 * `clock` with the sleeps of `duration` counted as they begin (those for which `counts`, asked on the sleeping fiber,
 * holds). A test that means to end one with its test clock's `adjust` (the feed's `linger`) waits until it has begun.
 */
const countingSleeps = (clock: Clock.Clock, duration: Duration.Input, counts: () => boolean = () => true) => {
  const counted = Duration.toMillis(Duration.fromInputUnsafe(duration))
  let begun = 0
  const wrapped = onSleep(clock, (of) => {
    if (Duration.toMillis(of) === counted && counts()) begun++
  })
  return { clock: wrapped, begun: () => begun }
}

/** One notification heard on the channel, split into its parts. */
interface Heard {
  readonly from: string
  readonly what: string
  readonly session: string
  readonly seq: number
  readonly body: string
  readonly bytes: number
}

const parse = (payload: string): Heard => {
  const first = payload.indexOf("\n")
  const second = payload.indexOf("\n", first + 1)
  const [session, seq] = payload.slice(first + 2, second).split(".")
  return {
    from: payload.slice(0, first),
    what: payload[first + 1]!,
    session: session!,
    seq: Number(seq),
    body: payload.slice(second + 1),
    bytes: Buffer.byteLength(payload)
  }
}

/** Collects a stream in the background, following it from now (its fiber starts at once). */
const collecting = <A, E>(stream: Stream.Stream<A, E>) =>
  Effect.gen(function*() {
    const seen: Array<A> = []
    const fiber = yield* Effect.forkScoped(Stream.runForEach(stream, (a) => Effect.sync(() => void seen.push(a))), { startImmediately: true })
    return { seen, fiber }
  })

/** Waits (every 10 ms, at most 10 s) until `done` holds; fails the test with `detail()` otherwise. */
const until = (done: () => boolean, detail: () => string) =>
  Effect.gen(function*() {
    while (!done()) yield* Effect.sleep("10 millis")
  }).pipe(
    Effect.timeout("10 seconds"),
    Effect.catchTag("TimeoutError", () => Effect.die(new Error(`never happened: ${detail()}`)))
  )

let channels = 0
let ids = 0

/** A record of x's, running its first attempt, with `fields` over it. */
const record = (fields: Partial<TaskInfo.TaskInfo> = {}): TaskInfo.TaskInfo => ({
  id: `${TaskInfo.makeId(Date.now()).slice(0, 24)}${(++ids).toString(16).padStart(12, "0")}`,
  kind: "remote",
  status: "running",
  reason: null,
  priority: 0,
  key: null,
  owner: null,
  attempt: 1,
  progress: 0,
  message: null,
  detail: null,
  payload: {},
  result: null,
  error: null,
  errorMessage: null,
  checkpoint: null,
  createdAt: Date.now(),
  startedAt: Date.now(),
  finishedAt: null,
  heartbeatAt: 100,
  expiresAt: null,
  runner: "x:1",
  ...fields
})

const finished = (info: TaskInfo.TaskInfo, fields: Partial<TaskInfo.TaskInfo> = {}): TaskInfo.TaskInfo => ({
  ...info,
  status: "completed",
  progress: 100,
  finishedAt: Date.now(),
  ...fields
})

/**
 * Faults of a's PostgreSQL client — notifications it hears dropped (`deaf`), sends refused (`refuse` of them, each
 * try counted; `refuseChanges` of them likewise, counting only sends of changes, so that no count takes a refusal
 * meant for a change) — and of its store: its read of every unfinished record refused (`unfinishedRefused`), its
 * reads of one task refused (`getRefused`, the task's id) or held (`getHeld`).
 */
interface Faults {
  deaf: boolean
  /**
   * Deaf from x's next notification on, once a's listener is given it (`deafen`): every notification before it
   * reaches a's listener, which has read them all once it has read that one.
   */
  deafAfterX: boolean
  refuse: number
  refuseChanges: number
  listens: number
  /** Listens established (the channel subscribed): what a notification sent from then on reaches. */
  listening: number
  unfinishedRefused: boolean
  getRefused: string | undefined
  /** Reads of one task (`id`) held until `until` is done: a slow store. */
  getHeld: { readonly id: string; readonly until: Deferred.Deferred<void> } | undefined
  /** How many times the store was asked for each task's record (`get`). */
  gets: Map<string, number>
}

/**
 * Runner a (its supervisor, its feed, its store) on a channel of its own, and the test's runner x on it: what x
 * hears a send, and `post` to send as x (numbered in x's session unless the test says otherwise).
 */
const cluster = (options: {
  readonly before?: ReadonlyArray<TaskInfo.TaskInfo>
  /** a keeps time by a test clock (`TestClock`): its sleeps and schedules wait for `adjust`, its sends are those of time 0 */
  readonly testClock?: boolean
  /** a's bound on the tasks it expects at once (`ClusterFeed.expectedLimit` if not given) */
  readonly expectedLimit?: number
  /** How often a's waits for a final record read it again (`ClusterFeed.finalRecheck` if not given) */
  readonly finalRecheck?: Duration.Input
  /** How many runners forgotten for their silence a keeps the last number of (`ClusterFeed.forgottenLimit` if not given) */
  readonly forgottenLimit?: number
} = {}) =>
  Effect.gen(function*() {
    const channel = `chainjobs_wire_${process.pid}_${++channels}`
    const memory = yield* TaskStore.makeMemory
    const faults: Faults = { deaf: false, deafAfterX: false, refuse: 0, refuseChanges: 0, listens: 0, listening: 0, unfinishedRefused: false, getRefused: undefined, getHeld: undefined, gets: new Map() }
    const store: TaskStore.TaskStore["Service"] = {
      ...memory,
      get: (id) =>
        Effect.suspend(() => {
          faults.gets.set(id, (faults.gets.get(id) ?? 0) + 1)
          if (id === faults.getRefused) return Effect.fail(new TaskError.TaskStoreError({ operation: "get", detail: "refused by the test" }))
          const held = faults.getHeld
          return held !== undefined && held.id === id ? Effect.andThen(Deferred.await(held.until), memory.get(id)) : memory.get(id)
        }),
      unfinished: Effect.suspend(() =>
        faults.unfinishedRefused
          ? Effect.fail(new TaskError.TaskStoreError({ operation: "unfinished", detail: "refused by the test" }))
          : memory.unfinished)
    }
    for (const info of options.before ?? []) yield* store.insert(info)
    // x listens before a starts: it hears a's first words
    const xpg = yield* connect
    const notifications = yield* xpg.listen(channel)
    const heard: Array<Heard> = []
    yield* Effect.forkScoped(Effect.forever(Effect.map(Effect.orDie(Queue.take(notifications)), ({ payload }) => {
      const parsed = parse(payload)
      if (parsed.from === "a:1") heard.push(parsed)
    })))
    const gates = new Map<string, Queue.Queue<number>>()
    const gate = (name: string) =>
      Effect.suspend(() => {
        const found = gates.get(name)
        return found === undefined ? Effect.map(Queue.unbounded<number>(), (queue) => {
          gates.set(name, queue)
          return queue
        }) : Effect.succeed(found)
      })
    const local = yield* Tasks.make.pipe(
      Effect.provideService(TasksConfig.TasksConfig, TasksConfig.make({ maxWorkers: 4, shutdownGracePeriod: 0 })),
      Effect.provideService(TaskStore.TaskStore, Runner.runnerView(store, "a:1"))
    )
    yield* local.register(Gated, ({ gate: name }) =>
      Effect.gen(function*() {
        const context = yield* TaskContext.TaskContext
        for (;;) {
          const step = yield* Queue.take(yield* gate(name))
          if (step >= 100) return
          yield* context.progress(step)
        }
      }), Context.empty())
    const apg = yield* connect
    /** The fiber that sent a's first counts: its loop's. */
    let countsFiber: Fiber.Fiber<unknown, unknown> | undefined
    const pg: Pick<PgClient.PgClient, "listen" | "notify"> = {
      // every attempt of a send asks again (the feed retries the same effect)
      notify: (channel, payload) =>
        Effect.suspend(() => {
          const what = payload[payload.indexOf("\n") + 1]
          // the counts' loop (a greeting's counts go from a fiber of their own, which never sleeps a tick)
          if (what === "s" && countsFiber === undefined) countsFiber = Fiber.getCurrent()
          const change = what === "c"
          if (change && faults.refuseChanges > 0) faults.refuseChanges--
          else if (faults.refuse > 0) faults.refuse--
          else return apg.notify(channel, payload)
          return Effect.fail(new SqlError.SqlError({ reason: new SqlError.ConnectionError({ cause: new Error("refused by the test") }) }))
        }),
      listen: (channel) =>
        Effect.gen(function*() {
          faults.listens++
          const source = yield* apg.listen(channel)
          faults.listening++
          const queue = yield* Queue.unbounded<{ readonly channel: string; readonly payload: string }, SqlError.SqlError>()
          yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(source), (notification) =>
            Effect.sync(() => {
              if (faults.deaf) return
              Queue.offerUnsafe(queue, notification)
              if (faults.deafAfterX && notification.payload.startsWith("x:1\n")) {
                faults.deafAfterX = false
                faults.deaf = true
              }
            }))).pipe(Effect.ignore))
          return queue as never
        })
    }
    const time = steppingClock(yield* Clock.Clock)
    const testClock = options.testClock === true ? yield* TestClock.make() : undefined
    // the feed's sleeps of `linger` counted: a test adjusting its test clock waits for the one it means to end
    const lingering = countingSleeps(testClock ?? time.clock, ClusterFeed.linger)
    // the counts' loop's sleeps until its next tick: each begins once the tick's counts went and its wants were renewed
    const ticking = countingSleeps(lingering.clock, ClusterFeed.statsInterval, () => countsFiber !== undefined && Fiber.getCurrent() === countsFiber)
    const feedClock: Clock.Clock = ticking.clock
    const feedScope = yield* Scope.fork(yield* Effect.scope)
    const feed = yield* ClusterFeed.make({
      local,
      origin: "a:1",
      channel,
      pg,
      expectedLimit: options.expectedLimit,
      finalRecheck: options.finalRecheck,
      forgottenLimit: options.forgottenLimit
    }).pipe(
      Effect.provideService(TaskStore.TaskStore, store),
      Effect.provideService(Clock.Clock, feedClock),
      Scope.provide(feedScope)
    )
    const changes = yield* collecting(feed.changes)
    const journal = yield* collecting(feed.changesAndDeletions)
    let seq = 0
    /** Sends as x (or `from`): kind `what`, the next number of session `s1` unless given. */
    const post = (what: string, body: string, header: { readonly from?: string; readonly session?: string; readonly seq?: number } = {}) =>
      Effect.orDie(xpg.notify(channel, `${header.from ?? "x:1"}\n${what}${header.session ?? "s1"}.${header.seq ?? ++seq}.${feedClock.currentTimeMillisUnsafe()}\n${body}`))
    /** Sends records (and other wire items) as x, numbered next. */
    const tell = (items: ReadonlyArray<unknown>, header: { readonly from?: string; readonly session?: string; readonly seq?: number } = {}) =>
      post("c", JSON.stringify(items), header)
    /** What a's changes hold of task `id`. */
    const heardOf = (id: string) => changes.seen.filter((info) => info.id === id)
    /**
     * Tells a finished record of a new task as x (numbered next, or as given) and waits until a's changes hold it:
     * a has read every notification x sent before.
     */
    const settle = (header: { readonly from?: string; readonly session?: string; readonly seq?: number } = {}) =>
      Effect.gen(function*() {
        const marker = finished(record({ kind: "marker", runner: header.from ?? "x:1" }))
        yield* tell([{ i: marker }], header)
        yield* until(() => heardOf(marker.id).length > 0, () => `a never told the marker ${marker.id}`)
      })
    const sent = (what: string) => heard.filter((notification) => notification.what === what)
    /** The records a sent of task `id`, in order. */
    const sentOf = (id: string) =>
      sent("c").flatMap((notification) => (JSON.parse(notification.body) as Array<Record<string, TaskInfo.TaskInfo>>))
        .filter((item) => (item.i ?? item.d)?.id === id)
    return {
      channel,
      store,
      local,
      feed,
      faults,
      time,
      testClock,
      /** How many sleeps of `ClusterFeed.linger` the feed has begun. */
      lingersBegun: lingering.begun,
      /**
       * How many ticks of its counts a has ended: sent its counts, renewed its wants (if it wants anything) and begun
       * to wait for the next. That x heard the counts does not say the renewal is behind: it follows the send.
       */
      ticksEnded: ticking.begun,
      changes,
      journal,
      heard,
      sent,
      sentOf,
      post,
      tell,
      settle,
      /**
       * Makes a's listener deaf once it has read every notification sent so far: x's settling marker is the last it
       * hears. Setting `faults.deaf` alone leaves what the listener was given and has not read yet — a's own count
       * of a moment ago — to be read later, and heard after a `time.jump` it ends the silence the jump made.
       */
      deafen: Effect.suspend(() => {
        faults.deafAfterX = true
        return settle()
      }),
      heardOf,
      step: (name: string, value: number) => Effect.flatMap(gate(name), (queue) => Queue.offer(queue, value)),
      close: Scope.close(feedScope, Exit.void),
      xpg
    }
  })

/** The records of a task a told, as `status:heartbeat:progress:message`. */
const brief = (infos: ReadonlyArray<TaskInfo.TaskInfo>) =>
  infos.map((info) => `${info.status}:${info.heartbeatAt}:${info.progress}:${info.message ?? ""}`)

const stats = (counts: Partial<{ pending: number; running: number; maxWorkers: number; runningByKind: Record<string, number> }>) =>
  JSON.stringify({ pending: 0, running: 0, maxWorkers: 0, runningByKind: {}, accepting: true, ...counts })

/**
 * Runner a on a test clock (its clock stands still: its counts go once, at its start, then only on the test's adjusts
 * and as answers), once x's first counts reached it and it answered them.
 */
const answeredX = Effect.gen(function*() {
  const a = yield* cluster({ testClock: true })
  yield* until(() => a.sent("s").length === 1, () => "a's first counts")
  yield* a.post("s", stats({}))
  yield* until(() => a.sent("s").length === 2, () => JSON.stringify(a.heard))
  return a
})

/**
 * What a (on a test clock) tells x it wants (`wants`), and `told(body)`: waits until its last wants are `body`,
 * ending each linger the feed begins meanwhile. Each change of its wants begins one once the wants sender takes it:
 * under load its fiber gets there after the test moved on, and an adjust made before a sleep begins never ends it
 * (the clock stands still). So every linger is ended once it has begun, never before: no renewal (a second of the
 * test clock) ever comes. `endLingers` ends those begun and not yet ended.
 */
const wantsTold = (a: Effect.Success<ReturnType<typeof cluster>>) => {
  const wants = () => a.sent("w").map((notification) => notification.body)
  let ended = a.lingersBegun()
  const endLingers = Effect.suspend(() => {
    if (a.lingersBegun() === ended) return Effect.void
    ended = a.lingersBegun()
    return a.testClock!.adjust(ClusterFeed.linger)
  })
  const told = (body: string) =>
    Effect.gen(function*() {
      while (wants().at(-1) !== body) {
        yield* endLingers
        yield* Effect.sleep("10 millis")
      }
    }).pipe(
      Effect.timeout("10 seconds"),
      Effect.catchTag("TimeoutError", () =>
        Effect.die(new Error(`never told ${body}: ${JSON.stringify(wants())}, ${a.lingersBegun()} lingers begun`)))
    )
  return { wants, told, endLingers }
}

/**
 * A renewal of a's wants (a on a test clock, its wants as `wants` lists them): ends the tick its counts wait for, once
 * that tick has begun (an adjust made before it begins never ends it), and waits until a has told its wants again.
 */
const renewals = (a: Effect.Success<ReturnType<typeof cluster>>, wants: () => ReadonlyArray<string>) => {
  let ticked = 0
  return Effect.gen(function*() {
    yield* until(() => a.ticksEnded() > ticked, () => "a's next tick begun")
    ticked = a.ticksEnded()
    const before = wants().length
    yield* a.testClock!.adjust(ClusterFeed.statsInterval)
    yield* until(() => wants().length > before, () => `a renewal: ${JSON.stringify(wants())}`)
  })
}

/**
 * Waits until a's sends decided on every change queued before (kept it unsent, sent it or skipped it): the deletion of a
 * marker, queued after them, is sent.
 */
const sendsDecided = (a: Effect.Success<ReturnType<typeof cluster>>) =>
  Effect.gen(function*() {
    const marker = record({ runner: "a:1" })
    yield* a.feed.deleted(marker)
    yield* until(() => a.sentOf(marker.id).length === 1, () => "the marker's deletion")
  })

/**
 * A read of a task's record for `finalRecord` that counts itself (in `reads`, by id) and finds `info`: whether a join
 * read first or took the final record the feed kept.
 */
const countedRead = (reads: Map<string, number>, info: TaskInfo.TaskInfo) =>
  Effect.sync(() => {
    reads.set(info.id, (reads.get(info.id) ?? 0) + 1)
    return info
  })

/**
 * A task of a's expected (`expect`), run by a's supervisor (its gate `gate`) and joined (`finalRecord`, waiting unread):
 * its record as expected (`running`) and the join's fiber.
 */
const joinedRunningHere = (a: Effect.Success<ReturnType<typeof cluster>>, gate: string) =>
  Effect.gen(function*() {
    const running = record({ runner: "a:1" })
    a.feed.expect(running.id)
    yield* a.local.submit(Gated, { gate }, { id: running.id })
    yield* until(() => a.heardOf(running.id).some((info) => info.status === "running"), () => "running here")
    const join = yield* Effect.forkChild(a.feed.finalRecord(running.id, countedRead(new Map(), running)), { startImmediately: true })
    return { running, join }
  })

/** Tasks x ran to their end, each expected by a (`expect`) before x told their final records (in tens), and told. */
const expectedAndFinished = (a: Effect.Success<ReturnType<typeof cluster>>, count: number) =>
  Effect.gen(function*() {
    const finals = Array.from({ length: count }, () => finished(record(), { result: "x".repeat(100) }))
    for (const info of finals) a.feed.expect(info.id)
    for (let from = 0; from < count; from += 10) yield* a.tell(finals.slice(from, from + 10).map((info) => ({ i: info })))
    yield* a.settle()
    return finals
  })

/**
 * Runner a, its waits reading again only after hours, that has heard x: a join of a task waiting unread ends only by
 * what the test makes happen.
 */
const blindCluster = Effect.tap(cluster({ finalRecheck: "5 hours" }), (a) => a.settle())

/**
 * A task x ran to its end, expected by a (`expect`) and in the store, its final record's notification never sent:
 * what x's leaving takes away.
 */
const finishedUntold = (a: Effect.Success<ReturnType<typeof cluster>>) =>
  Effect.gen(function*() {
    const info = finished(record({ runner: "x:1" }))
    a.feed.expect(info.id)
    yield* a.store.insert(info)
    return info
  })

describe.skipIf(pgTestUrl === undefined)("ClusterFeed on the wire, expected tasks (expect)", () => {
  it.live("keeps at most its bound of expected tasks, final records and all: a join of one expected past it reads first", () =>
    Effect.gen(function*() {
      const a = yield* cluster({ expectedLimit: 20 })
      // none joined as they end: what the feed keeps for joins stays within the bound
      const finals = yield* expectedAndFinished(a, 60)
      const reads = new Map<string, number>()
      for (const info of finals) {
        assert.deepStrictEqual(yield* a.feed.finalRecord(info.id, countedRead(reads, info)), Option.some(info))
      }
      assert.deepStrictEqual(finals.map((info) => reads.get(info.id) ?? 0), [...Array(20).fill(0), ...Array(40).fill(1)])
    }).pipe(Effect.scoped), 30_000)

  it.live("a join by a second caller reads first: the first took the final record kept", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const [info] = yield* expectedAndFinished(a, 1)
      const reads = new Map<string, number>()
      assert.deepStrictEqual(yield* a.feed.finalRecord(info!.id, countedRead(reads, info!)), Option.some(info!))
      assert.strictEqual(reads.get(info!.id), undefined, "the first join read")
      assert.deepStrictEqual(yield* a.feed.finalRecord(info!.id, countedRead(reads, info!)), Option.some(info!))
      assert.strictEqual(reads.get(info!.id), 1, "the second join's reads")
    }).pipe(Effect.scoped), 30_000)

  it.live("expectations are forgotten after lost changes and on deletion: a join then reads first", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const [lost, deleted] = yield* expectedAndFinished(a, 2)
      yield* a.tell([{ d: deleted! }])
      yield* a.settle()
      const reads = new Map<string, number>()
      assert.deepStrictEqual(yield* a.feed.finalRecord(deleted!.id, countedRead(reads, deleted!)), Option.some(deleted!))
      assert.strictEqual(reads.get(deleted!.id), 1, "the join of a deleted task's reads")
      // Number 2 of s2 never comes: 3 shows the loss.
      yield* a.settle({ session: "s2", seq: 1 })
      yield* a.settle({ session: "s2", seq: 3 })
      assert.deepStrictEqual(yield* a.feed.finalRecord(lost!.id, countedRead(reads, lost!)), Option.some(lost!))
      assert.strictEqual(reads.get(lost!.id), 1, "the join after lost changes' reads")
    }).pipe(Effect.scoped), 30_000)

  /**
   * A task x ran to its end, expected by a: its final record is in the store, but x left before its notification
   * went (killed between the two, or stopped with it still waiting), so no number of x's shows it missing. a's join
   * began without a read and a reads again only after hours: it ends only if x's leaving (`leave`) makes it read.
   */
  const lostWithItsRunner = (leave: (a: Effect.Success<ReturnType<typeof cluster>>) => Effect.Effect<void>) =>
    Effect.gen(function*() {
      const a = yield* blindCluster
      const info = yield* finishedUntold(a)
      const reads = new Map<string, number>()
      const join = yield* Effect.forkChild(a.feed.finalRecord(info.id, countedRead(reads, info)), { startImmediately: true })
      assert.strictEqual(reads.get(info.id), undefined, "the join read first")
      yield* leave(a)
      assert.deepStrictEqual(yield* joined(join, "the join of the task its runner took away"), Option.some(info))
    }).pipe(Effect.scoped)

  it.live("a join waiting unread for a final record whose notification its runner took away reads it when the runner says farewell", () =>
    lostWithItsRunner((a) => a.post("g", "")), 30_000)

  it.live("… when the runner starts again (a new session)", () => lostWithItsRunner((a) => a.settle({ session: "s2", seq: 1 })), 30_000)

  it.live("… when the runner falls silent for statsExpiryMillis (its counts stop)", () => lostWithItsRunner(() => Effect.void), 30_000)

  /**
   * A task x runs, followed on a by a watch and the all-tasks stream: its final record is in the store, but x left
   * before its notification went. No wait for it began unread and a watch never reads again: they end only if x's
   * leaving (`leave`) makes a read the tasks x ran.
   */
  const watchLostWithItsRunner = (leave: (a: Effect.Success<ReturnType<typeof cluster>>) => Effect.Effect<void>) =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const running = record({ runner: "x:1" })
      yield* a.tell([{ i: running }])
      yield* a.settle()
      const watch = yield* collecting(a.feed.watch(running.id, Effect.succeed(running)))
      yield* until(() => watch.seen.length === 1, () => `the watch's first record: ${brief(watch.seen)}`)
      const final = finished(running)
      yield* a.store.insert(final)
      yield* leave(a)
      yield* joined(watch.fiber, "the watch of the task its runner took away")
      assert.deepStrictEqual(brief(watch.seen), brief([running, final]))
      assert.deepStrictEqual(brief(a.heardOf(running.id)), brief([running, final]))
    }).pipe(Effect.scoped)

  it.live("a watch and the all-tasks stream of a task whose runner took its final record's notification away end with it when the runner says farewell", () =>
    watchLostWithItsRunner((a) => a.post("g", "")), 30_000)

  it.live("… when the runner falls silent for statsExpiryMillis", () =>
    watchLostWithItsRunner((a) => a.time.jump(ClusterFeed.statsExpiryMillis + 500)), 30_000)

  it.live("a runner's leaving reads no task run here: its final record comes from this runner's own supervisor", () =>
    Effect.gen(function*() {
      const a = yield* blindCluster
      const reads = new Map<string, number>()
      // run here, expected and joined unread first: the first a runner's leaving would read
      const own = record({ runner: "a:1" })
      a.feed.expect(own.id)
      yield* a.local.submit(Gated, { gate: "own" }, { id: own.id })
      yield* until(() => a.heardOf(own.id).length > 0, () => "a's own pending record")
      const ownJoin = yield* Effect.forkChild(a.feed.finalRecord(own.id, countedRead(reads, own)), { startImmediately: true })
      const remote = yield* finishedUntold(a)
      const remoteJoin = yield* Effect.forkChild(a.feed.finalRecord(remote.id, countedRead(reads, remote)), { startImmediately: true })
      yield* a.post("g", "")
      // x's leaving read the other task's record: it reached the task run here first, if at all
      assert.deepStrictEqual(yield* Fiber.join(remoteJoin), Option.some(remote))
      assert.strictEqual(a.faults.gets.get(own.id), undefined, "reads of the task run here")
      yield* a.step("own", 100)
      const ended = yield* Fiber.join(ownJoin)
      assert.strictEqual(Option.getOrUndefined(ended)?.status, "completed")
      assert.strictEqual(reads.get(own.id), undefined, "the join of the task run here read")
    }).pipe(Effect.scoped), 30_000)

  /**
   * A join waiting unread whose read, once x leaves (`leave`), the store holds: what a hears and sends meanwhile
   * (`meanwhile`) does not wait for it, and the join ends with the record once the store answers.
   */
  const heldReadOnLeaving = (
    leave: (a: Effect.Success<ReturnType<typeof cluster>>) => Effect.Effect<void>,
    meanwhile: (a: Effect.Success<ReturnType<typeof cluster>>) => Effect.Effect<void>
  ) =>
    Effect.gen(function*() {
      const a = yield* blindCluster
      const info = yield* finishedUntold(a)
      const answer = yield* Deferred.make<void>()
      a.faults.getHeld = { id: info.id, until: answer }
      const join = yield* Effect.forkChild(a.feed.finalRecord(info.id, countedRead(new Map(), info)), { startImmediately: true })
      yield* leave(a)
      yield* until(() => a.faults.gets.get(info.id) === 1, () => "the read on x's leaving")
      yield* meanwhile(a)
      assert.isUndefined(join.pollUnsafe(), "the join ended before its read")
      yield* Deferred.succeed(answer, undefined)
      assert.deepStrictEqual(yield* Fiber.join(join), Option.some(info))
    }).pipe(Effect.scoped)

  it.live("the reads on a runner's farewell hold back no notification: what comes next is told while they wait for the store", () =>
    heldReadOnLeaving((a) => a.post("g", ""), (a) => a.settle({ seq: 1 })), 30_000)

  it.live("the reads on a runner's silence hold back none of this runner's counts", () =>
    heldReadOnLeaving(
      (a) => a.time.jump(ClusterFeed.statsExpiryMillis + 500),
      (a) =>
        Effect.suspend(() => {
          const ticks = a.ticksEnded()
          return until(() => a.ticksEnded() >= ticks + 2, () => `a's counts: ${a.ticksEnded() - ticks} ticks ended`)
        })
    ), 30_000)

  it.live("a task expected before a runner left is read first by its join; one expected after is not", () =>
    Effect.gen(function*() {
      const a = yield* blindCluster
      const before = yield* finishedUntold(a)
      // x says farewell, numbered next (no loss); its numbers start again after it
      yield* a.post("g", "")
      yield* a.settle({ seq: 1 })
      const after = finished(record({ runner: "x:1" }))
      a.feed.expect(after.id)
      const reads = new Map<string, number>()
      assert.deepStrictEqual(yield* a.feed.finalRecord(before.id, countedRead(reads, before)), Option.some(before))
      assert.strictEqual(reads.get(before.id), 1, "the join of the task expected before x left")
      const join = yield* Effect.forkChild(a.feed.finalRecord(after.id, countedRead(reads, after)), { startImmediately: true })
      yield* a.tell([{ i: after }], { seq: 2 })
      assert.deepStrictEqual(yield* Fiber.join(join), Option.some(after))
      assert.strictEqual(reads.get(after.id), undefined, "the join of the task expected after x left read")
    }).pipe(Effect.scoped), 30_000)
})

describe.skipIf(pgTestUrl === undefined)("ClusterFeed on the wire", () => {
  it.live("tells each record of another runner once and in order: a repeated number, an earlier record and the same record again are dropped", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const task = record({ heartbeatAt: 100, progress: 10 })
      yield* a.tell([{ i: task }])
      yield* until(() => a.heardOf(task.id).length === 1, () => "the first record")
      // the same number again (a send PostgreSQL took, retried) though with a later record: a repeat
      yield* a.tell([{ i: { ...task, heartbeatAt: 200 } }], { seq: 1 })
      // an earlier heartbeat, then the same record again
      yield* a.tell([{ i: { ...task, heartbeatAt: 50, progress: 5 } }])
      yield* a.tell([{ i: task }])
      // the same heartbeat with new progress, then a new message: news
      yield* a.tell([{ i: { ...task, progress: 20 } }])
      yield* a.tell([{ i: { ...task, progress: 20, message: "half" } }])
      yield* a.tell([{ i: { ...task, progress: 20, message: "half" } }])
      // pending after running, in one attempt: earlier
      yield* a.tell([{ i: { ...task, status: "pending", heartbeatAt: null } }])
      const done = finished(task, { heartbeatAt: 100 })
      yield* a.tell([{ i: done }])
      // a finished record again, even one differing in its fields (its message too): told once
      yield* a.tell([{ i: { ...done, finishedAt: done.finishedAt! + 5, result: 1 } }])
      yield* a.tell([{ i: { ...done, message: "another" } }])
      // a running record after the finished one: earlier
      yield* a.tell([{ i: { ...task, attempt: 2, heartbeatAt: 900 } }])
      yield* a.settle()
      assert.deepStrictEqual(brief(a.heardOf(task.id)), [
        "running:100:10:",
        "running:100:20:",
        "running:100:20:half",
        "completed:100:100:"
      ])
      assert.deepStrictEqual(brief(a.journal.seen.filter((item) => !("_tag" in item) && item.id === task.id) as Array<TaskInfo.TaskInfo>), brief(a.heardOf(task.id)))
      // a later attempt is later than a finished one's running records, but not than its end
      const retried = record()
      yield* a.tell([{ i: retried }, { i: { ...retried, attempt: 2, status: "pending", heartbeatAt: null } }, { i: { ...retried, attempt: 2 } }])
      yield* a.settle()
      assert.deepStrictEqual(a.heardOf(retried.id).map((info) => `${info.attempt}:${info.status}`), ["1:running", "2:pending", "2:running"])
    }).pipe(Effect.scoped), 30_000)

  it.live("ignores its own notifications and ones it cannot read, and goes on", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const own = record({ runner: "a:1" })
      yield* a.tell([{ i: own }], { from: "a:1", seq: 1_000 })
      const noHeader = record()
      yield* Effect.orDie(a.xpg.notify(a.channel, `x:1`))
      yield* Effect.orDie(a.xpg.notify(a.channel, `x:1\nc s1.1.1 ${JSON.stringify([{ i: noHeader }])}`))
      yield* a.post("c", "not json")
      yield* a.post("s", "{")
      yield* a.settle()
      assert.deepStrictEqual(a.heardOf(own.id), [])
      assert.deepStrictEqual(a.heardOf(noHeader.id), [])
    }).pipe(Effect.scoped), 30_000)

  it.live("a number missing re-reads what a lost notification could have told: tasks heard of, unfinished ones, and those made since just before", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const heard = record()
      yield* a.tell([{ i: heard }])
      const firstSentAt = Date.now()
      yield* until(() => a.heardOf(heard.id).length === 1, () => "the first record")
      // Meanwhile, as a lost notification would have told:
      yield* a.store.insert(finished(heard))
      const unfinished = record({ createdAt: firstSentAt - 60_000 })
      yield* a.store.insert(unfinished)
      const early = finished(record({ createdAt: firstSentAt - 4_000 }))
      const later = finished(record({ createdAt: firstSentAt + 1 }))
      const long = finished(record({ createdAt: firstSentAt - 60_000 }))
      const own = finished(record({ runner: "a:1", createdAt: firstSentAt + 2 }))
      for (const info of [early, later, long, own]) yield* a.store.insert(info)
      // followed here (a watch's first read), made long ago, finished in a lost notification
      const watchedRecord = record({ createdAt: firstSentAt - 60_000 })
      const watched = yield* collecting(a.feed.watch(watchedRecord.id, Effect.succeed(watchedRecord)))
      yield* until(() => watched.seen.length === 1, () => "the watch's read")
      yield* a.store.insert(finished(watchedRecord))
      // No loss: a new session of x starts its numbers again, and numbers follow on in it. x started again: the
      // task it ran is read again (it may have taken its final record's notification with it), nothing else.
      yield* a.settle({ session: "s2", seq: 1 })
      yield* until(() => a.heardOf(heard.id).length === 2, () => `x's task after its new session: ${brief(a.heardOf(heard.id))}`)
      assert.deepStrictEqual(a.heardOf(heard.id).map((info) => info.status), ["running", "completed"])
      // heard of in x's new session, finished in the notification lost below
      const heardAfter = record()
      yield* a.tell([{ i: heardAfter }], { session: "s2", seq: 2 })
      yield* a.settle({ session: "s2", seq: 3 })
      yield* a.store.insert(finished(heardAfter))
      for (const info of [unfinished, early, later]) assert.deepStrictEqual(a.heardOf(info.id), [], `${info.id} told with no loss`)
      assert.deepStrictEqual(brief(a.heardOf(heardAfter.id)), ["running:100:0:"])
      // Number 4 of s2 never comes: 5 shows the loss.
      yield* a.settle({ session: "s2", seq: 5 })
      assert.deepStrictEqual(a.heardOf(heardAfter.id).map((info) => info.status), ["running", "completed"])
      assert.deepStrictEqual(a.heardOf(unfinished.id).map((info) => info.status), ["running"])
      assert.deepStrictEqual(a.heardOf(early.id).map((info) => info.status), ["completed"])
      assert.deepStrictEqual(a.heardOf(later.id).map((info) => info.status), ["completed"])
      assert.deepStrictEqual(a.heardOf(long.id), [], "a finished record made long before the loss")
      assert.deepStrictEqual(a.heardOf(own.id), [], "a's own record")
      yield* Fiber.join(watched.fiber)
      assert.deepStrictEqual(watched.seen.map((info) => info.status), ["running", "completed"])
      // the records made since, oldest first
      const order = a.changes.seen.map((info) => info.id)
      assert.isBelow(order.indexOf(early.id), order.indexOf(later.id))
    }).pipe(Effect.scoped), 30_000)

  it.live("the re-read after a loss reads every page of the records made since", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle()
      const made = Array.from({ length: 1001 }, () => finished(record()))
      for (const info of made) yield* a.store.insert(info)
      yield* a.settle({ seq: 3 })
      const told = new Set(a.changes.seen.map((info) => info.id))
      assert.strictEqual(made.filter((info) => !told.has(info.id)).length, 0)
    }).pipe(Effect.scoped), 30_000)

  it.live("a record sent by its id is read from the store in its place; one gone from the store is told as deleted as last heard", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const before = record()
      const large = record({ progress: 30 })
      const after = record()
      yield* a.store.insert(large)
      yield* a.tell([{ i: before }, { r: large.id }, { i: after }])
      yield* a.settle()
      const order = a.changes.seen.map((info) => info.id)
      assert.deepStrictEqual(order.slice(0, 3), [before.id, large.id, after.id])
      assert.strictEqual(a.heardOf(large.id)[0]!.progress, 30)
      // gone from the store: told as deleted (as last heard), which ends its watch
      const watched = yield* collecting(a.feed.watch(large.id, Effect.succeed(large)))
      yield* a.store.remove(large.id)
      yield* a.tell([{ r: large.id }, { r: "never-heard-of" }])
      yield* a.settle()
      yield* Fiber.join(watched.fiber)
      const deletions = a.journal.seen.filter((item): item is TaskEvent.Deleted => "_tag" in item)
      assert.deepStrictEqual(deletions.map((item) => [item.info.id, item.info.progress]), [[large.id, 30]])
      // a deletion told: in the journal, not in changes, and the end of a watch
      const other = record()
      const watchedOther = yield* collecting(a.feed.watch(other.id, Effect.succeed(other)))
      yield* a.tell([{ d: other }])
      yield* a.settle()
      yield* Fiber.join(watchedOther.fiber)
      assert.deepStrictEqual(brief(watchedOther.seen), brief([other]))
      assert.deepStrictEqual(a.heardOf(other.id), [])
      assert.isTrue(a.journal.seen.some((item) => "_tag" in item && item.info.id === other.id))
      // a record of a deleted task arriving after its deletion: earlier
      yield* a.tell([{ i: finished(other) }])
      yield* a.settle()
      assert.deepStrictEqual(a.heardOf(other.id), [])
      // a task heard running, then deleted: no longer unfinished elsewhere, so a loss does not tell its deletion again
      const gone = record()
      yield* a.tell([{ i: gone }])
      yield* a.tell([{ d: gone }])
      yield* a.settle()
      yield* a.settle({ seq: 1_000 })
      const goneDeletions = a.journal.seen.filter((item) => "_tag" in item && item.info.id === gone.id)
      assert.strictEqual(goneDeletions.length, 1)
      // the same deletion heard again, from another runner and from x once more: told once all the same
      yield* a.tell([{ d: gone }], { from: "y:1", session: "s9", seq: 1 })
      yield* a.tell([{ d: gone }], { seq: 1_001 })
      yield* a.settle({ seq: 1_002 })
      yield* a.settle({ from: "y:1", session: "s9", seq: 2 })
      assert.strictEqual(a.journal.seen.filter((item) => "_tag" in item && item.info.id === gone.id).length, 1)
    }).pipe(Effect.scoped), 30_000)

  it.live("a record this runner read keeps earlier notifications out, and an unfinished one is re-read after a loss", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const read = record({ heartbeatAt: 200 })
      yield* a.feed.observed(read)
      yield* a.tell([{ i: { ...read, heartbeatAt: 150 } }])
      // the record read itself, as a notification: not yet told here, so news
      yield* a.tell([{ i: read }])
      yield* a.tell([{ i: { ...read, heartbeatAt: 300 } }])
      // a's own record read: not its to order
      const own = record({ runner: "a:1", heartbeatAt: 200 })
      yield* a.feed.observed(own)
      yield* a.tell([{ i: { ...own, heartbeatAt: 100 } }])
      // a read later than what was heard: an earlier notification after it is dropped; a read equal to what was
      // told does not make it news again
      const heardFirst = record({ heartbeatAt: 100 })
      yield* a.tell([{ i: heardFirst }])
      yield* a.settle()
      yield* a.feed.observed({ ...heardFirst, heartbeatAt: 300 })
      yield* a.tell([{ i: { ...heardFirst, heartbeatAt: 200 } }])
      const same = record({ heartbeatAt: 100 })
      yield* a.tell([{ i: same }])
      yield* a.settle()
      yield* a.feed.observed(same)
      yield* a.tell([{ i: same }])
      yield* a.settle()
      assert.deepStrictEqual(a.heardOf(heardFirst.id).map((info) => info.heartbeatAt), [100])
      assert.deepStrictEqual(a.heardOf(same.id).map((info) => info.heartbeatAt), [100])
      // an earlier read after a later one changes nothing
      const twice = record({ heartbeatAt: 500 })
      yield* a.feed.observed(twice)
      yield* a.feed.observed({ ...twice, heartbeatAt: 400 })
      yield* a.tell([{ i: { ...twice, heartbeatAt: 450 } }])
      yield* a.settle()
      assert.deepStrictEqual(a.heardOf(read.id).map((info) => info.heartbeatAt), [200, 300])
      assert.deepStrictEqual(a.heardOf(own.id).map((info) => info.heartbeatAt), [100])
      assert.deepStrictEqual(a.heardOf(twice.id), [])
      // read while unfinished, finished in a lost notification: re-read after the loss
      const unheard = record({ createdAt: Date.now() - 60_000 })
      yield* a.feed.observed(unheard)
      const finishedRead = finished(record({ createdAt: Date.now() - 60_000 }))
      yield* a.feed.observed(finishedRead)
      yield* a.store.insert(finished(unheard))
      yield* a.store.insert({ ...finishedRead, result: "changed" })
      yield* a.settle({ seq: 100 })
      assert.deepStrictEqual(a.heardOf(unheard.id).map((info) => info.status), ["completed"])
      assert.deepStrictEqual(a.heardOf(finishedRead.id), [])
    }).pipe(Effect.scoped), 30_000)

  it.live("a read of a task submitted again under a deleted task's id keeps earlier notifications out, and is re-read after a loss", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      // the first task under the id, deleted: its place here is the deletion's (after every record of that task)
      const deleted = record({ createdAt: Date.now() - 120_000 })
      yield* a.tell([{ d: deleted }])
      yield* a.settle()
      // a new task under the id (created later), read here unfinished (a watch's first read): the read is its place
      const again = record({ id: deleted.id, createdAt: Date.now() - 60_000, heartbeatAt: 200 })
      yield* a.feed.observed(again)
      yield* a.tell([{ i: { ...again, heartbeatAt: 150 } }])
      yield* a.settle()
      assert.deepStrictEqual(a.heardOf(again.id), [], "an earlier notification of the new task after its read")
      // finished in a lost notification (made long before the loss: only its read makes it re-read)
      yield* a.store.insert(finished(again))
      yield* a.settle({ seq: 100 })
      assert.deepStrictEqual(a.heardOf(again.id).map((info) => info.status), ["completed"])
    }).pipe(Effect.scoped), 30_000)

  it.live("this runner's deletion of a task never heard of here keeps its final record, arriving after it, out; a new task under the id is news", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      // x's task, interrupted for a's deletion (its record read from the store), heard of here by no notification
      const gone = finished(record({ createdAt: Date.now() - 1_000 }), { status: "interrupted" })
      yield* a.feed.deleted(gone)
      // x's notification of that final record, sent before the deletion reached x, arrives after it
      yield* a.tell([{ i: gone }])
      yield* a.settle()
      assert.deepStrictEqual(a.heardOf(gone.id), [], "the deleted task's final record after its deletion")
      assert.strictEqual(a.journal.seen.filter((item) => "_tag" in item && item.info.id === gone.id).length, 1)
      // the id used again: a task created later, not a late record of the deleted one
      const again = record({ id: gone.id })
      yield* a.tell([{ i: again }])
      yield* a.settle()
      assert.deepStrictEqual(brief(a.heardOf(gone.id)), brief([again]))
    }).pipe(Effect.scoped), 30_000)

  it.live("records unfinished elsewhere when the runner first listens are re-read after a loss, and told though read", () =>
    Effect.gen(function*() {
      const known = record({ createdAt: Date.now() - 60_000 })
      const doneBefore = finished(record({ createdAt: Date.now() - 60_000 }))
      const ownBefore = record({ runner: "a:1", createdAt: Date.now() - 60_000 })
      const a = yield* cluster({ before: [known, doneBefore, ownBefore] })
      // learned, not told: the same record heard is news
      yield* a.tell([{ i: known }])
      yield* a.settle()
      assert.deepStrictEqual(brief(a.heardOf(known.id)), ["running:100:0:"])
      yield* a.store.update(finished(known))
      yield* a.store.update({ ...ownBefore, status: "failed", finishedAt: Date.now() })
      yield* a.settle({ seq: 10 })
      assert.deepStrictEqual(a.heardOf(known.id).map((info) => info.status), ["running", "completed"])
      assert.deepStrictEqual(a.heardOf(doneBefore.id), [])
      assert.deepStrictEqual(a.heardOf(ownBefore.id), [])
    }).pipe(Effect.scoped), 30_000)

  it.live("a watch begins with its read, follows the task's changes and ends with its final record; a change before the read wins", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const task = record({ heartbeatAt: 100 })
      const watch = yield* collecting(a.feed.watch(task.id, Effect.succeed(task)))
      yield* until(() => watch.seen.length === 1, () => "the first read")
      yield* a.tell([{ i: { ...task, heartbeatAt: 200 } }, { i: finished(task) }])
      yield* Fiber.join(watch.fiber)
      assert.deepStrictEqual(watch.seen.map((info) => info.status), ["running", "running", "completed"])
      // the read of a finished task: the watch ends with it
      const ended = yield* collecting(a.feed.watch("done", Effect.succeed(finished(record()))))
      yield* Fiber.join(ended.fiber)
      assert.strictEqual(ended.seen.length, 1)
      // a change heard while the first read is under way: the read (older) is not told after it
      const slow = record({ heartbeatAt: 100 })
      const reading = yield* Deferred.make<void>()
      const late = yield* collecting(a.feed.watch(slow.id, Effect.as(Deferred.await(reading), slow)))
      yield* a.tell([{ i: { ...slow, heartbeatAt: 300 } }])
      yield* until(() => late.seen.length === 1, () => "the change before the read")
      yield* Deferred.succeed(reading, undefined)
      yield* a.tell([{ i: finished(slow) }])
      yield* Fiber.join(late.fiber)
      assert.deepStrictEqual(late.seen.map((info) => info.heartbeatAt), [300, 100])
      assert.deepStrictEqual(late.seen.map((info) => info.status), ["running", "completed"])
      // a reader slower than the changes: the latest win, the final record among them, and the watch ends
      const busy = record({ heartbeatAt: 1 })
      const reading2 = yield* Deferred.make<void>()
      const slowReader: Array<TaskInfo.TaskInfo> = []
      const slowFiber = yield* Effect.forkScoped(Stream.runForEach(a.feed.watch(busy.id, Effect.succeed(busy)), (info) =>
        Effect.andThen(Effect.sync(() => void slowReader.push(info)), Deferred.await(reading2))))
      yield* until(() => slowReader.length === 1, () => "the slow reader's first record")
      for (let part = 0; part < 4; part++) {
        yield* a.tell(Array.from({ length: 10 }, (_, i) => ({ i: { ...busy, heartbeatAt: part * 10 + i + 2 } })))
      }
      yield* a.tell([{ i: finished(busy) }])
      yield* a.settle()
      yield* Deferred.succeed(reading2, undefined)
      yield* Fiber.join(slowFiber)
      assert.strictEqual(slowReader.at(-1)!.status, "completed")
      assert.isBelow(slowReader.length, 40)
      // two watches of one task, one ending first: the other still hears
      const shared = record()
      const first = yield* Effect.forkScoped(Stream.runCollect(Stream.take(a.feed.watch(shared.id, Effect.succeed(shared)), 1)))
      const second = yield* collecting(a.feed.watch(shared.id, Effect.succeed(shared)))
      yield* Fiber.join(first)
      yield* until(() => second.seen.length === 1, () => "the second watch's read")
      yield* a.tell([{ i: finished(shared) }])
      yield* Fiber.join(second.fiber)
      assert.deepStrictEqual(second.seen.map((info) => info.status), ["running", "completed"])
    }).pipe(Effect.scoped), 30_000)

  it.live("the counts add every runner's last, leave out one that said farewell at once and one not heard for three seconds", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const own = yield* a.local.stats
      // held from here: x's counts are heard at this moment and age by the jumps alone, however long the machine
      // takes between two steps of the test
      yield* a.time.hold
      yield* a.post("s", stats({ pending: 1, running: 2, maxWorkers: 3, runningByKind: { k: 2 } }))
      yield* a.post("s", stats({ pending: 10, running: 20, maxWorkers: 30, runningByKind: { k: 5, j: 15 } }), { from: "y:1", seq: 1 })
      let total = yield* a.feed.stats
      while (total.running !== own.running + 22) {
        yield* Effect.sleep("10 millis")
        total = yield* a.feed.stats
      }
      assert.deepStrictEqual(total, {
        pending: own.pending + 11,
        running: own.running + 22,
        maxWorkers: own.maxWorkers + 33,
        runningByKind: { ...own.runningByKind, k: 7, j: 15 },
        accepting: own.accepting
      })
      yield* a.post("g", "", { from: "y:1", seq: 2 })
      while ((yield* a.feed.stats).running !== own.running + 2) yield* Effect.sleep("10 millis")
      yield* a.time.jump(2_900)
      assert.strictEqual((yield* a.feed.stats).running, own.running + 2)
      // now over three seconds old
      yield* a.time.jump(200)
      assert.deepStrictEqual(yield* a.feed.stats, own)
    }).pipe(Effect.scoped), 30_000)

  it.live("after a farewell the sender's numbers start again: a number far on is no loss", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle({ from: "y:1", seq: 1 })
      yield* a.post("g", "", { from: "y:1", seq: 2 })
      const unfinished = record({ runner: "y:1" })
      yield* a.store.insert(unfinished)
      yield* a.settle({ from: "y:1", seq: 50 })
      assert.deepStrictEqual(a.heardOf(unfinished.id), [])
      // and numbers are followed from there
      yield* a.settle({ from: "y:1", seq: 52 })
      assert.deepStrictEqual(a.heardOf(unfinished.id).map((info) => info.status), ["running"])
    }).pipe(Effect.scoped), 30_000)

  it.live("a runner forgotten for its silence that comes back in the same session with numbers missing is a loss: a task it began and ended unheard is told", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle()
      // x unheard past peerExpiryMillis (a partition): forgotten by a's next ticks
      yield* a.time.jump(ClusterFeed.peerExpiryMillis + 1_000)
      const ticks = a.ticksEnded()
      yield* until(() => a.ticksEnded() >= ticks + 2, () => `a's counts: ${a.ticksEnded() - ticks} ticks ended`)
      // begun and ended on x while unheard: in the store, its notifications lost (numbers 2 to 4)
      const whole = finished(record({ runner: "x:1", createdAt: a.time.now() }))
      yield* a.store.insert(whole)
      yield* a.settle({ seq: 5 })
      yield* until(() => a.heardOf(whole.id).length > 0, () => `a never told ${whole.id}, x's task while unheard`)
      assert.deepStrictEqual(brief(a.heardOf(whole.id)), brief([whole]))
    }).pipe(Effect.scoped), 30_000)

  it.live("runners forgotten for their silence keep their last numbers up to the bound, the longest forgotten dropped first", () =>
    Effect.gen(function*() {
      const a = yield* cluster({ forgottenLimit: 1 })
      yield* a.settle()
      yield* a.settle({ from: "y:1", seq: 1 })
      // x unheard the longer: forgotten first, and dropped when y is forgotten after it
      yield* a.time.jump(ClusterFeed.peerExpiryMillis + 1_000)
      const ticks = a.ticksEnded()
      yield* until(() => a.ticksEnded() >= ticks + 2, () => `a's counts: ${a.ticksEnded() - ticks} ticks ended`)
      const whole = finished(record({ runner: "y:1", createdAt: a.time.now() }))
      yield* a.store.insert(whole)
      // x back with numbers missing: taken as new, no re-read (it would be done before the marker is told)
      yield* a.settle({ seq: 5 })
      assert.deepStrictEqual(a.heardOf(whole.id), [])
      // y back with numbers missing: a loss, re-read
      yield* a.settle({ from: "y:1", seq: 5 })
      yield* until(() => a.heardOf(whole.id).length > 0, () => `a never told ${whole.id}, y's task while unheard`)
    }).pipe(Effect.scoped), 30_000)

  it.live("sends its own task's records only while another runner wants them, a final record kept until it does; deletions always", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const watched = yield* a.local.submit(Gated, { gate: "watched" })
      const other = yield* a.local.submit(Gated, { gate: "other" })
      /** Both tasks step; waits until a has sent the watched task's step (and so the other's before it). */
      const stepBoth = (value: number) =>
        Effect.gen(function*() {
          yield* a.step("other", value)
          yield* until(() => a.changes.seen.some((info) => info.id === other.id && info.progress === value), () => `other at ${value}`)
          yield* a.step("watched", value)
          yield* until(() => a.changes.seen.some((info) => info.id === watched.id && info.progress === value), () => `watched at ${value}`)
        })
      const progressSent = (id: string) => a.sentOf(id).filter((item) => item.i !== undefined && item.i.status === "running").map((item) => item.i!.progress)
      // nobody wants anything: the steps stay here, locally told
      yield* stepBoth(10)
      // x wants the watched task
      yield* a.post("w", JSON.stringify({ t: [watched.id] }))
      yield* a.settle()
      yield* stepBoth(20)
      yield* until(() => progressSent(watched.id).includes(20), () => JSON.stringify(a.sentOf(watched.id)))
      assert.deepStrictEqual(progressSent(watched.id), [20])
      assert.deepStrictEqual(progressSent(other.id), [])
      // x wants everything
      yield* a.post("w", JSON.stringify({ a: 1 }))
      yield* a.settle()
      yield* stepBoth(30)
      yield* until(() => progressSent(watched.id).includes(30), () => JSON.stringify(a.sentOf(watched.id)))
      assert.deepStrictEqual(progressSent(other.id), [30])
      // x's wants not renewed for five seconds lapse: the watched task's end is not sent, but kept
      yield* a.time.jump(5_100)
      yield* stepBoth(40)
      yield* a.step("watched", 100)
      yield* until(() => a.changes.seen.some((info) => info.id === watched.id && info.status === "completed"), () => "watched completed")
      yield* a.settle()
      assert.isFalse(a.sentOf(watched.id).some((item) => item.i?.status === "completed"), JSON.stringify(a.sentOf(watched.id)))
      // x comes to wait for it: its kept final record is sent then
      yield* a.post("w", JSON.stringify({ t: [], f: [watched.id] }))
      yield* until(() => a.sentOf(watched.id).some((item) => item.i?.status === "completed"), () => JSON.stringify(a.sentOf(watched.id)))
      assert.deepStrictEqual(progressSent(watched.id), [20, 30])
      assert.deepStrictEqual(progressSent(other.id), [30])
      // a farewell withdraws what x wanted
      yield* a.post("w", JSON.stringify({ a: 1 }))
      yield* a.post("g", "")
      yield* a.settle({ seq: 1 })
      yield* a.step("other", 50)
      yield* until(() => a.changes.seen.some((info) => info.id === other.id && info.progress === 50), () => "other at 50")
      const deleted = record({ runner: "a:1", progress: 55 })
      yield* a.feed.deleted(deleted)
      yield* until(() => a.sentOf(deleted.id).length === 1, () => "the deletion")
      assert.deepStrictEqual(progressSent(other.id), [30])
      assert.strictEqual(a.sentOf(deleted.id)[0]!.d!.progress, 55)
      // a's own followers heard every step of its own tasks, and the deletion
      assert.deepStrictEqual(a.changes.seen.filter((info) => info.id === other.id && info.status === "running").map((info) => info.progress).filter((p) => p > 0), [10, 20, 30, 40, 50])
      assert.isTrue(a.journal.seen.some((item) => "_tag" in item && item.info.id === deleted.id))
      yield* a.step("other", 100)
    }).pipe(Effect.scoped), 30_000)

  it.live("tells the others what its followers want: a list of tasks while it fits, everything and every final record otherwise, withdrawn when none", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const wants = () => a.sent("w").map((notification) => notification.body)
      const next = (after: number) =>
        Effect.gen(function*() {
          yield* until(() => wants().length > after, () => `no wants after ${after}: ${JSON.stringify(wants())}`)
          return wants()[after]!
        })
      const scope1 = yield* Scope.make()
      yield* Scope.provide(a.feed.interest.task("t1"), scope1)
      assert.deepStrictEqual(JSON.parse(yield* next(0)), { t: ["t1"] })
      const scope2 = yield* Scope.make()
      yield* Scope.provide(a.feed.interest.task("t1"), scope2)
      yield* Scope.close(scope2, Exit.void)
      // still wanted: the next wants (renewed each second) name it
      const count = wants().length
      assert.deepStrictEqual(JSON.parse(yield* next(count)), { t: ["t1"] })
      yield* Scope.close(scope1, Exit.void)
      yield* until(() => wants().at(-1) === `{"t":[]}`, () => JSON.stringify(wants()))
      // every task
      const all = yield* Scope.make()
      yield* Scope.provide(a.feed.interest.all, all)
      yield* until(() => wants().at(-1) === `{"a":1}`, () => JSON.stringify(wants()))
      const more = yield* Scope.make()
      yield* Scope.provide(a.feed.interest.task("t2"), more)
      const counted = wants().length
      assert.strictEqual(yield* next(counted), `{"a":1}`)
      yield* Scope.close(more, Exit.void)
      yield* Scope.close(all, Exit.void)
      yield* until(() => wants().at(-1) === `{"t":[]}`, () => JSON.stringify(wants()))
      // too many tasks for one notification: everything, and every final record (those kept lately sent too)
      const many = yield* Scope.make()
      for (let i = 0; i < 300; i++) yield* Scope.provide(a.feed.interest.task(`${TaskInfo.makeId(Date.now())}-${i}`), many)
      yield* until(() => wants().at(-1) === `{"a":1,"e":1}`, () => JSON.stringify(wants().at(-1)?.slice(0, 100)))
      yield* Scope.close(many, Exit.void)
      yield* until(() => wants().at(-1) === `{"t":[]}`, () => JSON.stringify(wants().at(-1)?.slice(0, 100)))
      // wanting nothing, it renews nothing: its counts go on each second, its wants do not
      const counts = a.sent("s").length
      const withdrawn = wants().length
      yield* until(() => a.sent("s").length >= counts + 2, () => "two more counts")
      assert.strictEqual(wants().length, withdrawn)
      for (const notification of a.heard) assert.isAtMost(notification.bytes, ClusterFeed.payloadLimit)
    }).pipe(Effect.scoped), 30_000)

  it.live("packs a burst into numbered notifications under PostgreSQL's limit; a record too large goes by its id, a large deletion without its large parts", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      // each change 1970 bytes on the wire: three fit a notification's room, a fourth would pass PostgreSQL's limit
      // less the header's room (`payloadLimit`)
      const sized = (i: number) => {
        const info = record({ runner: "a:1", message: `${i}`, payload: { n: i } })
        return { ...info, message: `${i}`.padEnd(1_970 - Buffer.byteLength(JSON.stringify({ d: info })) + `${i}`.length, "m") }
      }
      const burst: Array<TaskInfo.TaskInfo> = Array.from({ length: 30 }, (_, i) => sized(i))
      for (const info of burst) yield* a.feed.deleted(info)
      // a record that names no runner goes named for this one
      const unnamed: TaskInfo.TaskInfo = { ...record(), runner: undefined } as never
      yield* a.feed.deleted(unnamed)
      burst.push(unnamed)
      const large = record({ runner: "a:1", payload: { text: "x".repeat(9_000) } })
      yield* a.feed.deleted(large)
      yield* until(() => a.sentOf(large.id).length === 1, () => "the large deletion")
      const items = a.sent("c").flatMap((notification) => JSON.parse(notification.body) as Array<{ readonly d: TaskInfo.TaskInfo }>)
      assert.deepStrictEqual(items.map((item) => item.d.id), [...burst, large].map((info) => info.id))
      assert.strictEqual(Buffer.byteLength(JSON.stringify(items[0])), 1_970)
      assert.deepStrictEqual([items[0]!.d.message, items[0]!.d.payload], [burst[0]!.message, { n: 0 }])
      assert.strictEqual(items.find((item) => item.d.id === unnamed.id)!.d.runner, "a:1")
      assert.isTrue(a.journal.seen.some((item) => "_tag" in item && item.info.id === unnamed.id && item.info.runner === "a:1"), "the deletion in a's journal")
      const last = items.at(-1)!.d
      assert.deepStrictEqual([last.payload, last.progress, last.runner], [null, large.progress, "a:1"])
      // each notification as full as the next record allows (PostgreSQL's 8000 bytes less the header's room)
      const notes = a.sent("c")
      for (const [i, notification] of notes.entries()) {
        assert.isAtMost(notification.bytes, ClusterFeed.payloadLimit)
        const next = notes[i + 1]
        if (next === undefined) continue
        const nextItem = JSON.stringify((JSON.parse(next.body) as Array<unknown>)[0])
        assert.isAbove(Buffer.byteLength(notification.body) + Buffer.byteLength(nextItem), 7_800, `notification ${i} had room for the next record`)
      }
      // a deletion just under the limit but within 200 bytes of it goes without its large parts too; one too large
      // even so goes by its id
      const near = record({ runner: "a:1", payload: { text: "" } })
      const nearText = "y".repeat(7_750 - Buffer.byteLength(JSON.stringify({ d: near })))
      const nearDeleted = { ...near, payload: { text: nearText } }
      yield* a.feed.deleted(nearDeleted)
      const huge = record({ runner: "a:1", message: "m".repeat(9_000) })
      yield* a.feed.deleted(huge)
      yield* until(() => a.sent("c").some((notification) => notification.body.includes(`{"r":"${huge.id}"}`)), () => "the huge deletion by id")
      assert.deepStrictEqual(a.sentOf(nearDeleted.id).map((item) => [item.d!.payload, item.d!.message]), [[null, null]])
      // numbered one after another in one session, with the counts
      const numbers = a.heard.map((notification) => notification.seq)
      assert.deepStrictEqual(numbers, numbers.map((_, i) => numbers[0]! + i))
      assert.strictEqual(new Set(a.heard.map((notification) => notification.session)).size, 1)
      // an own record too large for a notification: its id
      const big = yield* a.local.submit(Gated, { gate: "x".repeat(9_000) })
      yield* a.post("w", JSON.stringify({ a: 1 }))
      yield* a.settle()
      yield* a.step("x".repeat(9_000), 100)
      yield* until(() => a.sent("c").some((notification) => notification.body.includes(`{"r":"${big.id}"}`)), () => "the large record by id")
      assert.isFalse(a.sent("c").some((notification) => notification.body.includes(`"i":{"id":"${big.id}"`)))
    }).pipe(Effect.scoped), 30_000)

  it.live("a lone runner sends nothing after its first seconds, but numbers what it skipped; a runner heard from makes it send again", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const first = record({ runner: "a:1" })
      yield* a.feed.deleted(first)
      yield* until(() => a.sentOf(first.id).length === 1, () => "sent in the first seconds")
      yield* a.time.jump(6_000)
      const skipped = record({ runner: "a:1" })
      yield* a.feed.deleted(skipped)
      // the send of skipped is decided after its linger (10 ms): x heard before that would have it sent
      yield* Effect.sleep("100 millis")
      // x is heard: a sends again
      yield* a.post("s", stats({}))
      yield* Effect.sleep("100 millis")
      const after = record({ runner: "a:1" })
      yield* a.feed.deleted(after)
      yield* until(() => a.sentOf(after.id).length === 1, () => "sent once x was heard")
      assert.deepStrictEqual(a.sentOf(skipped.id), [])
      const numbers = a.sent("c").map((notification) => notification.seq)
      assert.strictEqual(numbers.length, 2)
      const used = new Set(a.heard.map((notification) => notification.seq))
      const missing = Array.from({ length: numbers[1]! - numbers[0]! }, (_, i) => numbers[0]! + i).filter((n) => !used.has(n))
      assert.isAbove(missing.length, 0, "the skipped send took a number none of a's notifications has")
      // x not heard for 30 seconds: a is alone again
      yield* a.time.jump(30_100)
      const alone = record({ runner: "a:1" })
      yield* a.feed.deleted(alone)
      yield* Effect.sleep("200 millis")
      assert.deepStrictEqual(a.sentOf(alone.id), [])
    }).pipe(Effect.scoped), 30_000)

  it.live("a send PostgreSQL refuses is tried again", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle()
      a.faults.refuse = 2
      const deleted = record({ runner: "a:1" })
      yield* a.feed.deleted(deleted)
      yield* until(() => a.sentOf(deleted.id).length === 1, () => "the deletion, sent again")
    }).pipe(Effect.scoped), 30_000)

  it.live("a listener that hears nothing, not even its own counts, for ten seconds listens again and re-reads", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.deafen
      const unfinished = record({ createdAt: Date.now() - 60_000 })
      const made = finished(record())
      yield* a.store.insert(unfinished)
      yield* a.store.insert(made)
      yield* a.time.jump(10_500)
      yield* until(() => a.faults.listens === 2, () => `listened ${a.faults.listens} times`)
      a.faults.deaf = false
      yield* until(() => a.heardOf(unfinished.id).length === 1 && a.heardOf(made.id).length === 1, () => "the re-read")
    }).pipe(Effect.scoped), 30_000)

  it.live("a listener that hears its own counts is not deaf", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle()
      yield* a.time.jump(10_500)
      // a's counts go every second and come back to it: a check at least
      yield* Effect.sleep("1500 millis")
      assert.strictEqual(a.faults.listens, 1)
    }).pipe(Effect.scoped), 30_000)

  it.live("a runner that stops says farewell, numbered next, and its followers' streams end", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const watch = yield* collecting(a.feed.watch("some", Effect.succeed(record())))
      yield* until(() => watch.seen.length === 1, () => "the watch's read")
      yield* a.close
      yield* Fiber.join(a.changes.fiber)
      yield* Fiber.join(a.journal.fiber)
      yield* Fiber.join(watch.fiber)
      yield* until(() => a.sent("g").length === 1, () => "the farewell")
      const farewell = a.heard.findIndex((notification) => notification.what === "g")
      assert.strictEqual(a.heard[farewell]!.seq, Math.max(0, ...a.heard.slice(0, farewell).map((notification) => notification.seq)) + 1)
      // following a stopped feed ends at once
      assert.deepStrictEqual(Array.from(yield* Stream.runCollect(a.feed.changes)), [])
      assert.deepStrictEqual(Array.from(yield* Stream.runCollect(a.feed.changesAndDeletions)), [])
      const late = yield* Stream.runCollect(a.feed.watch("late", Effect.succeed(record())))
      assert.strictEqual(Array.from(late).length, 1)
    }).pipe(Effect.scoped), 30_000)

  it.live("a finished task's place is kept fifteen seconds at least, then forgotten: its final record heard after that is told again", () =>
    Effect.gen(function*() {
      const a = yield* cluster({ testClock: true })
      // a second of a's time at a time, its own counts heard back between (not deaf)
      const tick = (seconds: number) =>
        Effect.forEach(Array.from({ length: seconds }), () =>
          Effect.andThen(a.testClock!.adjust("1 second"), Effect.sleep("30 millis")), { discard: true })
      const done = finished(record())
      const open = record({ heartbeatAt: 100 })
      // in the store as told: x, silent between its notifications, is taken for gone and its open task read again
      yield* a.store.insert(open)
      yield* a.tell([{ i: done }, { i: open }])
      yield* a.settle()
      yield* tick(15)
      yield* a.tell([{ i: done }])
      yield* a.settle()
      assert.strictEqual(a.heardOf(done.id).length, 1)
      yield* tick(15)
      yield* a.tell([{ i: done }])
      // an unfinished task's place is kept as long as it runs: an earlier record of it is still dropped
      yield* a.tell([{ i: { ...open, heartbeatAt: 50 } }])
      yield* a.settle()
      assert.strictEqual(a.heardOf(done.id).length, 2)
      assert.deepStrictEqual(a.heardOf(open.id).map((info) => info.heartbeatAt), [100])
    }).pipe(Effect.scoped), 30_000)

  it.live("a runner new to this one is answered at once with its counts and wants; one known is not", () =>
    Effect.gen(function*() {
      // a's clock stands still: its counts go once, at its start, and never on their own again
      const a = yield* cluster({ testClock: true })
      const wants = yield* Scope.make()
      yield* Scope.provide(a.feed.interest.task("t1"), wants)
      yield* until(() => a.sent("s").length === 1, () => "a's first counts")
      yield* a.post("s", stats({}))
      yield* until(() => a.sent("s").length === 2 && a.sent("w").length > 0, () => JSON.stringify(a.heard))
      assert.deepStrictEqual(JSON.parse(a.sent("w").at(-1)!.body), { t: ["t1"] })
      yield* a.post("s", stats({}))
      yield* a.post("w", JSON.stringify({ a: 1 }))
      yield* a.settle()
      yield* Effect.sleep("100 millis")
      assert.strictEqual(a.sent("s").length, 2)
      // a runner new to it by its wants is answered too
      yield* a.post("w", JSON.stringify({ t: [] }), { from: "y:1", seq: 1 })
      yield* until(() => a.sent("s").length === 3, () => JSON.stringify(a.heard))
      yield* Scope.close(wants, Exit.void)
    }).pipe(Effect.scoped), 30_000)

  it.live("a task that comes to run here leaves the place another runner's notifications gave it", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const elsewhere = record({ heartbeatAt: 100 })
      yield* a.tell([{ i: elsewhere }])
      yield* a.settle()
      // the task is adopted here (a's supervisor runs it, under the same id)
      yield* a.local.submit(Gated, { gate: "moved" }, { id: elsewhere.id })
      yield* until(() => a.heardOf(elsewhere.id).some((info) => info.runner === "a:1" && info.status === "running"), () => "running here")
      // a late notification from the runner it left: earlier than what runs here
      yield* a.tell([{ i: { ...elsewhere, heartbeatAt: 200 } }])
      yield* a.settle()
      assert.deepStrictEqual(a.heardOf(elsewhere.id).map((info) => `${info.runner}:${info.status}`), ["x:1:running", "a:1:pending", "a:1:running"])
      yield* a.step("moved", 100)
      yield* until(() => a.heardOf(elsewhere.id).some((info) => info.status === "completed"), () => "completed here")
      // deleted by this runner's supervisor: told here and to the others, named for this runner
      yield* a.local.delete(elsewhere.id)
      yield* until(() => a.sentOf(elsewhere.id).some((item) => item.d !== undefined), () => "the deletion sent")
      assert.strictEqual(a.sentOf(elsewhere.id).find((item) => item.d !== undefined)!.d!.runner, "a:1")
      assert.isTrue(a.journal.seen.some((item) => "_tag" in item && item.info.id === elsewhere.id))
      // a task heard from the other runner and deleted here: a late notification of it is earlier than its deletion
      const deletedHere = record()
      yield* a.tell([{ i: deletedHere }])
      yield* a.settle()
      yield* a.feed.deleted({ ...deletedHere, runner: "a:1" })
      yield* a.tell([{ i: finished(deletedHere) }])
      yield* a.settle()
      assert.deepStrictEqual(a.heardOf(deletedHere.id).map((info) => info.status), ["running"])
    }).pipe(Effect.scoped), 30_000)

  it.live("a runner started again numbers its notifications in a new session", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* until(() => a.heard.length > 0, () => "a's first notification")
      yield* a.close
      yield* ClusterFeed.make({ local: a.local, origin: "a:1", channel: a.channel, pg: yield* connect }).pipe(
        Effect.provideService(TaskStore.TaskStore, a.store)
      )
      yield* until(() => a.heard.at(-1)!.what === "s" && a.heard.some((notification) => notification.what === "g"), () => JSON.stringify(a.heard))
      const sessions = a.heard.filter((notification) => notification.what === "s").map((notification) => notification.session)
      assert.notStrictEqual(sessions[0], sessions.at(-1))
    }).pipe(Effect.scoped), 30_000)

  it.live("a re-read whose read of the unfinished records fails still tells the records made since", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle()
      a.faults.unfinishedRefused = true
      const made = finished(record())
      yield* a.store.insert(made)
      yield* a.settle({ seq: 10 })
      assert.deepStrictEqual(a.heardOf(made.id).map((info) => info.status), ["completed"])
      for (const info of a.changes.seen) assert.isString(info.id)
    }).pipe(Effect.scoped), 30_000)

  it.live("a feed made from its context listens on the channel of its client's schema, or public's when it has none", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const schema = `feed_wire_${process.pid}_${++channels}`
      const admin = yield* connect
      yield* admin`CREATE SCHEMA ${admin(schema)}`
      yield* Effect.addFinalizer(() => Effect.ignore(admin`DROP SCHEMA ${admin(schema)} CASCADE`))
      for (const [searchPath, channel] of [[schema, ClusterFeed.channelOf(schema)], [`${schema}_none`, ClusterFeed.channelOf("public")]] as const) {
        const pg = yield* PgClient.make({ url: Redacted.make(pgTestUrl ?? ""), maxConnections: 2, startupParameters: { search_path: searchPath } }).pipe(
          Effect.provide(Reactivity.layer),
          Effect.orDie
        )
        const feed = yield* ClusterFeed.makeFromContext(a.local, "b:1").pipe(
          Effect.provideService(PgClient.PgClient, pg),
          Effect.provideService(TaskStore.TaskStore, a.store),
          Effect.orDie
        )
        const heard = yield* collecting(feed.changes)
        const told = finished(record())
        yield* Effect.orDie(admin.notify(channel, `x:1\nc${searchPath}.1.${Date.now()}\n${JSON.stringify([{ i: told }])}`))
        yield* until(() => heard.seen.some((info) => info.id === told.id), () => `nothing heard on ${channel} with search_path ${searchPath}`)
      }
    }).pipe(Effect.scoped), 30_000)

  it("the channel is one per schema", () => {
    assert.strictEqual(ClusterFeed.channelOf("one"), ClusterFeed.channelOf("one"))
    assert.notStrictEqual(ClusterFeed.channelOf("one"), ClusterFeed.channelOf("two"))
    assert.match(ClusterFeed.channelOf("one"), /^chainjobs_changes_[0-9a-z]+$/)
    assert.strictEqual(new ClusterFeed.ListenerDeaf({ millis: 12 }).message, "the task-change listener heard nothing for 12 ms while this runner sent its counts")
  })

  it.live("a change PostgreSQL refuses on each of its five tries is given up, its number left missing, and the sends after it go on", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle()
      const before = Math.max(0, ...a.heard.map((notification) => notification.seq))
      a.faults.refuseChanges = 5
      const lost = record({ runner: "a:1" })
      yield* a.feed.deleted(lost)
      yield* until(() => a.faults.refuseChanges === 0, () => `${a.faults.refuseChanges} refusals left`)
      const next = record({ runner: "a:1" })
      yield* a.feed.deleted(next)
      yield* until(() => a.sentOf(next.id).length === 1, () => `the change after the one given up: ${JSON.stringify(a.heard)}`)
      assert.deepStrictEqual(a.sentOf(lost.id), [])
      // the lost change's number is the one missing: a listener knows it missed something
      const nextSeq = a.sent("c").find((notification) => notification.body.includes(next.id))!.seq
      const used = new Set(a.heard.map((notification) => notification.seq))
      const missing = Array.from({ length: nextSeq - before - 1 }, (_, i) => before + 1 + i).filter((n) => !used.has(n))
      assert.strictEqual(missing.length, 1, JSON.stringify(a.heard.map((notification) => `${notification.what}${notification.seq}`)))
    }).pipe(Effect.scoped), 30_000)

  it.live("a deletion told here keeps the runner its record names (the one that ran it), and names this runner when it names none", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle()
      const ranElsewhere = record({ runner: "x:1" })
      const unnamed: TaskInfo.TaskInfo = { ...record(), runner: undefined } as never
      yield* a.feed.deleted(ranElsewhere)
      yield* a.feed.deleted(unnamed)
      yield* until(() => a.sentOf(unnamed.id).length === 1, () => "both deletions sent")
      assert.deepStrictEqual([a.sentOf(ranElsewhere.id)[0]!.d!.runner, a.sentOf(unnamed.id)[0]!.d!.runner], ["x:1", "a:1"])
      const journaled = (id: string) => a.journal.seen.flatMap((item) => "_tag" in item && item.info.id === id ? [item.info.runner] : [])
      assert.deepStrictEqual([journaled(ranElsewhere.id), journaled(unnamed.id)], [["x:1"], ["a:1"]])
    }).pipe(Effect.scoped), 30_000)

  it.live("a runner that said farewell is new again: its next notification is answered at once with this one's counts", () =>
    Effect.gen(function*() {
      const a = yield* answeredX
      yield* a.post("g", "")
      // x started again: a new session
      yield* a.post("s", stats({}), { session: "s2", seq: 1 })
      yield* until(() => a.sent("s").length === 3, () => `no answer to x after its farewell: ${JSON.stringify(a.heard)}`)
    }).pipe(Effect.scoped), 30_000)

  it.live("a change of what its followers want is told within the linger, not left to the next renewal", () =>
    Effect.gen(function*() {
      // a's clock stands still but for the linger the test lets pass: no renewal (a second) ever comes
      const a = yield* cluster({ testClock: true })
      const { told } = wantsTold(a)
      const first = yield* Scope.make()
      yield* Scope.provide(a.feed.interest.task("t1"), first)
      yield* told(`{"t":["t1"]}`)
      // one of two followers of t1 gone: t1 still wanted, beside t2
      const second = yield* Scope.make()
      yield* Scope.provide(a.feed.interest.task("t1"), second)
      yield* Scope.close(first, Exit.void)
      yield* a.testClock!.adjust(ClusterFeed.linger)
      const other = yield* Scope.make()
      yield* Scope.provide(a.feed.interest.task("t2"), other)
      yield* told(`{"t":["t1","t2"]}`)
      yield* Scope.close(second, Exit.void)
      yield* Scope.close(other, Exit.void)
      yield* told(`{"t":[]}`)
      const all = yield* Scope.make()
      yield* Scope.provide(a.feed.interest.all, all)
      yield* told(`{"a":1}`)
      yield* Scope.close(all, Exit.void)
      yield* told(`{"t":[]}`)
    }).pipe(Effect.scoped), 30_000)

  it.live("a record sent by its id that is gone and was never heard of is skipped, the rest of its notification told; deletions reach the journal as Deleted events", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const after = record()
      yield* a.tell([{ r: "never-heard-of" }, { i: after }])
      yield* a.settle()
      assert.strictEqual(a.heardOf(after.id).length, 1)
      // deleted as told, and gone from the store when read by its id
      const deleted = record()
      const gone = record()
      yield* a.tell([{ i: gone }, { d: deleted }, { r: gone.id }])
      yield* a.settle()
      const events = a.journal.seen.filter((item): item is TaskEvent.Deleted => "_tag" in item)
      assert.deepStrictEqual(events.map((item) => [item._tag, item.info.id]), [["Deleted", deleted.id], ["Deleted", gone.id]])
    }).pipe(Effect.scoped), 30_000)

  it.live("a re-read whose read of one task fails still reads the others and the records made since", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const unreadable = record()
      yield* a.tell([{ i: unreadable }])
      yield* a.settle()
      a.faults.getRefused = unreadable.id
      const made = finished(record())
      yield* a.store.insert(made)
      yield* a.settle({ seq: 100 })
      assert.deepStrictEqual(a.heardOf(made.id).map((info) => info.status), ["completed"])
    }).pipe(Effect.scoped), 30_000)

  it.live("a runner whose only follower wants every task renews its wants each second", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const everything = () => a.sent("w").filter((notification) => notification.body === `{"a":1}`).length
      yield* Scope.provide(a.feed.interest.all, yield* Effect.scope)
      // told once at the change; any more is a renewal, and no follower of a single task is there to make it
      yield* until(() => everything() >= 2, () => `no renewal of the wants: ${JSON.stringify(a.sent("w"))}`)
    }).pipe(Effect.scoped), 30_000)

  it.live("a record unfinished elsewhere when the runner first listens, never heard of since and finished in a lost notification, is told after the loss", () =>
    Effect.gen(function*() {
      // made long before the loss: neither the unfinished records nor those made since find it finished
      const known = record({ createdAt: Date.now() - 60_000 })
      const a = yield* cluster({ before: [known] })
      yield* a.settle()
      yield* a.store.update(finished(known))
      yield* a.settle({ seq: 10 })
      assert.deepStrictEqual(a.heardOf(known.id).map((info) => info.status), ["completed"])
    }).pipe(Effect.scoped), 30_000)

  it.live("a listener that hears nothing for a few seconds, not ten, is not taken for deaf", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle()
      a.faults.deaf = true
      // its counts go out each second unheard: were silence of any length deafness, it listened again within ~3 s
      yield* Effect.sleep("5 seconds")
      assert.strictEqual(a.faults.listens, 1)
    }).pipe(Effect.scoped), 30_000)

  it.live("a listener deaf again after the re-read of its first outage listens again", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      for (const listens of [2, 3]) {
        yield* a.deafen
        yield* a.time.jump(10_500)
        // listening again: x's next notification reaches it (told once the re-read is over)
        yield* until(() => a.faults.listening === listens, () => `listened ${a.faults.listening} times, not ${listens}`)
        a.faults.deaf = false
        yield* a.settle()
      }
    }).pipe(Effect.scoped), 30_000)

  it.live("a notification cut short after its header is ignored: its number is not taken, and the sender's next is told", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle({ seq: 1 })
      // a header naming a number far on, and no line after it
      yield* Effect.orDie(a.xpg.notify(a.channel, `x:1\ncs1.50.${Date.now()}`))
      // number 2 follows number 1: told (were 50 taken, 2 would be a repeat, dropped)
      yield* a.settle({ seq: 2 })
    }).pipe(Effect.scoped), 30_000)

  it.live("a sender's counts, wants and changes are numbered in one sequence: one missing between a count and a change is a loss", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle({ seq: 1 })
      const unfinished = record({ createdAt: Date.now() - 60_000 })
      yield* a.store.insert(unfinished)
      yield* a.post("s", stats({ running: 1 }), { seq: 2 })
      yield* a.post("w", JSON.stringify({ t: ["some"] }), { seq: 3 })
      assert.deepStrictEqual(a.heardOf(unfinished.id), [], "no loss yet")
      // number 4 never comes: the change numbered 5 shows the loss, and the re-read tells the unfinished record
      yield* a.settle({ seq: 5 })
      assert.deepStrictEqual(a.heardOf(unfinished.id).map((info) => info.status), ["running"])
    }).pipe(Effect.scoped), 30_000)

  it.live("a follower that changes nothing of what the runner wants sends no wants: a task's second follower, a task followed and left while every task is wanted", () =>
    Effect.gen(function*() {
      // a's clock stands still but for the lingers the test ends: no renewal (a second) ever comes
      const a = yield* cluster({ testClock: true })
      const { endLingers, told, wants } = wantsTold(a)
      // a's first tick (its counts, then the renewal of its wants: nothing wanted yet) is behind it, and the renewals'
      // clock stands still. Heard counts are not enough: under load x heard them, and the test declared t1, before a
      // went on from the send to the renewal, which then told t1 too (four wants where three were expected)
      yield* until(() => a.ticksEnded() > 0, () => `a's first tick: counts sent ${a.sent("s").length}`)
      /** Gives a wants sender woken by `change` (it should not be) time to begin its linger, then ends it. */
      const noChange = <A, E, R>(change: Effect.Effect<A, E, R>) =>
        Effect.andThen(change, Effect.andThen(Effect.sleep("200 millis"), endLingers))
      const followers = yield* Scope.make()
      yield* Scope.provide(a.feed.interest.task("t1"), followers)
      yield* told(`{"t":["t1"]}`)
      yield* noChange(Scope.provide(a.feed.interest.task("t1"), followers))
      const all = yield* Scope.make()
      yield* Scope.provide(a.feed.interest.all, all)
      yield* told(`{"a":1}`)
      const t2 = yield* Scope.make()
      yield* noChange(Scope.provide(a.feed.interest.task("t2"), t2))
      yield* noChange(Scope.close(t2, Exit.void))
      yield* Scope.close(all, Exit.void)
      yield* told(`{"t":["t1"]}`)
      assert.deepStrictEqual(wants(), [`{"t":["t1"]}`, `{"a":1}`, `{"t":["t1"]}`])
    }).pipe(Effect.scoped), 30_000)

  it.live("a listener deaf for a while re-reads from the oldest last notification of the runners it hears, not the newest", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      // y's last notification was sent a minute ago: what y sent after it may be lost as well
      yield* Effect.orDie(a.xpg.notify(a.channel, `y:1\nss1.1.${Date.now() - 60_000}\n${stats({})}`))
      yield* a.deafen
      // made half a minute ago, finished since: only a re-read from y's last notification finds it
      const made = finished(record({ createdAt: Date.now() - 30_000 }))
      yield* a.store.insert(made)
      yield* a.time.jump(10_500)
      yield* until(() => a.faults.listens === 2, () => `listened ${a.faults.listens} times`)
      a.faults.deaf = false
      yield* until(() => a.heardOf(made.id).length === 1, () => "the re-read from y's last notification on")
    }).pipe(Effect.scoped), 30_000)

  it.live("a lone runner, which sends nothing, is not taken for deaf however long it hears nothing", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      // its first counts go out (and come back) in its first seconds; x never speaks, so after them it sends nothing
      yield* until(() => a.sent("s").length > 0, () => "a's first counts")
      yield* a.time.jump(10_500)
      // A count sent before the jump and heard back after it makes the silence begin then: the second jump comes
      // after any such echo (sent in its first seconds, nothing is sent after the first jump: nobody is heard).
      yield* Effect.sleep("1 second")
      yield* a.time.jump(10_500)
      // three checks of deafness, each a second apart, find it silent ten seconds but with nothing sent unheard
      yield* Effect.sleep("3500 millis")
      assert.strictEqual(a.faults.listens, 1)
    }).pipe(Effect.scoped), 30_000)
})

describe.skipIf(pgTestUrl === undefined)("ClusterFeed on the wire, runners forgotten for their silence", () => {
  /** Runner a that has heard x (number 1) and then forgotten it for its silence: two ticks of its counts past it. */
  const forgetting = (a: Effect.Success<ReturnType<typeof cluster>>, millis: number) =>
    Effect.gen(function*() {
      yield* a.time.jump(millis)
      const ticks = a.ticksEnded()
      yield* until(() => a.ticksEnded() >= ticks + 2, () => `a's counts: ${a.ticksEnded() - ticks} ticks ended`)
    })

  it.live("a forgotten runner's repeated number leaves it forgotten: its next number missing some is still a loss", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle()
      yield* forgetting(a, ClusterFeed.peerExpiryMillis + 1_000)
      const whole = finished(record({ runner: "x:1", createdAt: a.time.now() }))
      yield* a.store.insert(whole)
      // x's number 1 again (a send it retried), then 5: 2 to 4 lost
      yield* a.post("s", stats({}), { seq: 1 })
      yield* a.settle({ seq: 5 })
      yield* until(() => a.heardOf(whole.id).length > 0, () => `a never told ${whole.id}, x's task while unheard`)
    }).pipe(Effect.scoped), 60_000)

  it.live("a runner forgotten longer than forgottenMemoryMillis is taken as new when it comes back: no re-read of all made since", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle()
      yield* forgetting(a, ClusterFeed.peerExpiryMillis + 1_000)
      // x's last number dropped by a's ticks once forgotten that long
      yield* forgetting(a, ClusterFeed.forgottenMemoryMillis + 1_000)
      const whole = finished(record({ runner: "x:1", createdAt: a.time.now() }))
      yield* a.store.insert(whole)
      // a re-read would be done before the marker is told
      yield* a.settle({ seq: 5 })
      assert.deepStrictEqual(a.heardOf(whole.id), [])
    }).pipe(Effect.scoped), 60_000)

  it.live("the listener's re-read after an outage covers the runners forgotten meanwhile: their next numbers are no loss again", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      // y runs a task a knows unfinished: every re-read reads it again (the store's gets of it count them)
      const open = record({ runner: "y:1" })
      yield* a.store.insert(open)
      yield* a.tell([{ i: open }], { from: "y:1", seq: 1 })
      yield* a.settle({ from: "y:1", seq: 2 })
      yield* a.settle()
      // x and y forgotten; x speaks again (in order), so that a sends its counts and can find its listener deaf
      yield* forgetting(a, ClusterFeed.peerExpiryMillis + 1_000)
      yield* a.settle()
      yield* a.deafen
      const before = a.faults.gets.get(open.id) ?? 0
      yield* a.time.jump(10_500)
      yield* until(() => a.faults.listens === 2, () => `listened ${a.faults.listens} times`)
      a.faults.deaf = false
      yield* until(() => (a.faults.gets.get(open.id) ?? 0) > before, () => "the re-read after the outage")
      // y's numbers 3 to 9 were sent before the re-read (its sends failed in the outage): no second re-read
      yield* a.settle({ from: "y:1", seq: 10 })
      assert.strictEqual((a.faults.gets.get(open.id) ?? 0) - before, 1)
    }).pipe(Effect.scoped), 60_000)

  it.live("a join waiting unread for a final record reads it again after the finalRecheck given", () =>
    Effect.gen(function*() {
      const a = yield* blindCluster
      const info = yield* finishedUntold(a)
      // the join's sleeps before it reads again, on its own fiber's clock: of the 5 hours given
      const rechecks = countingSleeps(yield* Clock.Clock, "5 hours")
      const join = yield* Effect.forkChild(
        a.feed.finalRecord(info.id, countedRead(new Map(), info)).pipe(Effect.provideService(Clock.Clock, rechecks.clock)),
        { startImmediately: true }
      )
      yield* until(() => rechecks.begun() === 1, () => "the join's sleep of 5 hours before it reads again")
      yield* a.post("g", "")
      assert.deepStrictEqual(yield* Fiber.join(join), Option.some(info))
    }).pipe(Effect.scoped), 30_000)

  it.live("a runner forgotten once a change found nobody to hear it is new again when it speaks: answered at once with this one's counts", () =>
    Effect.gen(function*() {
      const a = yield* answeredX
      // x unheard past peerExpiryMillis, in steps shorter than deafAfterMillis: a hears its own counts of each step
      // back (not deaf); then a change of a's finds nobody to hear it, and is not sent
      for (let passed = 0; passed <= ClusterFeed.peerExpiryMillis; passed += 5_000) {
        const sent = a.sent("s").length
        yield* a.testClock!.adjust("5 seconds")
        yield* until(() => a.sent("s").length > sent, () => `a's counts after ${passed + 5_000} ms`)
        yield* Effect.sleep("50 millis")
      }
      const lingers = a.lingersBegun()
      const alone = record({ runner: "a:1" })
      yield* a.feed.deleted(alone)
      yield* until(() => a.lingersBegun() > lingers, () => "the deletion's linger")
      yield* a.testClock!.adjust(ClusterFeed.linger)
      yield* Effect.sleep("200 millis")
      assert.deepStrictEqual(a.sentOf(alone.id), [])
      // x speaks again: new to a, which answers at once (its clock still stands: no tick sends them)
      const counts = a.sent("s").length
      yield* a.post("s", stats({}))
      yield* until(() => a.sent("s").length === counts + 1, () => `no answer to x back from its silence: ${a.sent("s").length - counts} counts`)
    }).pipe(Effect.scoped), 30_000)

  it.live("a burst of records too large, each sent by its id, is packed under PostgreSQL's limit: each id counted with its separator", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      // each goes as {"r":"<id>"}, about 45 bytes: some 170 to a notification
      const huge = Array.from({ length: 300 }, () => record({ runner: "a:1", message: "m".repeat(9_000) }))
      for (const info of huge) yield* a.feed.deleted(info)
      const told = () => a.sent("c").map((notification) => notification.body).join()
      yield* until(() => huge.every((info) => told().includes(`{"r":"${info.id}"}`)), () => "every record by its id")
      assert.isAbove(a.sent("c").length, 1, "packed into several notifications")
      for (const notification of a.sent("c")) assert.isAtMost(notification.bytes, ClusterFeed.payloadLimit)
    }).pipe(Effect.scoped), 30_000)

  it.live("a final record kept unsent is dropped when its task is deleted: a want of it arriving later gets only the deletion", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle()
      // nobody wants it: its final record is kept here, unsent
      const gone = yield* a.local.submit(Gated, { gate: "gone" })
      yield* a.step("gone", 100)
      yield* until(() => a.changes.seen.some((info) => info.id === gone.id && info.status === "completed"), () => "completed")
      const final = a.changes.seen.find((info) => info.id === gone.id && info.status === "completed")!
      // kept once its send is decided, after its linger: a deletion queued after it (deletions always go) is sent after that
      const marker = record({ runner: "a:1" })
      yield* a.feed.deleted(marker)
      yield* until(() => a.sentOf(marker.id).length === 1, () => "the marker's deletion")
      yield* a.feed.deleted(final)
      yield* until(() => a.sentOf(gone.id).length === 1, () => "the deletion")
      // x comes to wait for it after its deletion
      yield* a.post("w", JSON.stringify({ t: [], f: [gone.id] }))
      yield* a.settle()
      yield* Effect.sleep("200 millis")
      assert.deepStrictEqual(a.sentOf(gone.id).map((item) => item.d !== undefined ? "deleted" : item.i!.status), ["deleted"])
    }).pipe(Effect.scoped), 30_000)

  it.live("a final record whose task is deleted within its linger is not kept unsent: a want of it arriving later gets only the deletion", () =>
    Effect.gen(function*() {
      // a test clock: a send waits in its linger until the test ends it, so the final record and the deletion go in one
      const a = yield* answeredX
      const { endLingers } = wantsTold(a)
      const completed = (id: string) => a.changes.seen.find((info) => info.id === id && info.status === "completed")
      /** Ends each linger a begins until `done` holds (at most 10 s): what a sends meanwhile goes out. */
      const sendingUntil = (done: () => boolean, what: string) =>
        Effect.gen(function*() {
          while (!done()) {
            yield* endLingers
            yield* Effect.sleep("10 millis")
          }
        }).pipe(Effect.timeout("10 seconds"), Effect.catchTag("TimeoutError", () => Effect.die(new Error(`never sent: ${what}`))))
      // nobody wants it: its final record is kept here, unsent — the witness that a want of kept records was answered
      const witness = yield* a.local.submit(Gated, { gate: "witness" })
      yield* a.step("witness", 100)
      yield* until(() => completed(witness.id) !== undefined, () => "the witness completed")
      const gone = yield* a.local.submit(Gated, { gate: "gone" })
      yield* a.step("gone", 100)
      yield* until(() => completed(gone.id) !== undefined, () => "completed")
      // deleted while its final record still waits in the linger, which the test has not ended
      yield* a.feed.deleted(completed(gone.id)!)
      yield* sendingUntil(() => a.sentOf(gone.id).length > 0, "the deletion")
      // x comes to wait for both after the deletion: each kept record goes in the send that answers it
      yield* a.post("w", JSON.stringify({ t: [], f: [gone.id, witness.id] }))
      yield* sendingUntil(() => a.sentOf(witness.id).some((item) => item.i?.status === "completed"), "the witness")
      assert.deepStrictEqual(a.sentOf(gone.id).map((item) => item.d !== undefined ? "deleted" : item.i!.status), ["deleted"])
    }).pipe(Effect.scoped), 30_000)

  it.live("an expected task's final record heard ends its want, told with the next renewal; its intermediate records do not", () =>
    Effect.gen(function*() {
      const a = yield* answeredX
      const { wants, told } = wantsTold(a)
      const renewed = renewals(a, wants)
      const info = record()
      a.feed.expect(info.id)
      yield* told(JSON.stringify({ t: [], f: [info.id] }))
      // x runs it: still wanted
      yield* a.tell([{ i: info }])
      yield* a.settle()
      yield* renewed
      assert.strictEqual(wants().at(-1), JSON.stringify({ t: [], f: [info.id] }))
      // x ends it: heard, so no longer wanted
      yield* a.tell([{ i: finished(info) }])
      yield* a.settle()
      yield* renewed
      assert.strictEqual(wants().at(-1), JSON.stringify({ t: [] }))
    }).pipe(Effect.scoped), 30_000)

  it.live("a runner's leaving does not read a task that moved here from it: the task is no longer known unfinished there", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const moved = record({ heartbeatAt: 100 })
      const stays = record()
      yield* a.tell([{ i: moved }, { i: stays }])
      yield* a.settle()
      // adopted here (a's supervisor runs it, under the same id)
      yield* a.local.submit(Gated, { gate: "moved" }, { id: moved.id })
      yield* until(() => a.heardOf(moved.id).some((info) => info.runner === "a:1" && info.status === "running"), () => "running here")
      yield* a.post("g", "")
      // x's leaving reads what it left unfinished (read in the order heard): the task still there, not the one run here
      yield* until(() => a.faults.gets.get(stays.id) === 1, () => "the read of x's unfinished task")
      assert.strictEqual(a.faults.gets.get(moved.id), undefined, "reads of the task run here")
    }).pipe(Effect.scoped), 30_000)

  it.live("a join waiting unread for a task that moved from here to another runner reads it when that runner leaves", () =>
    Effect.gen(function*() {
      const a = yield* blindCluster
      const { join, running: here } = yield* joinedRunningHere(a, "away")
      // its shard moved: x runs it (a later attempt) and ends it, the final record's notification never sent
      const there = { ...record(), id: here.id, attempt: 2 }
      yield* a.tell([{ i: there }])
      yield* a.settle()
      yield* a.store.update(finished(there))
      yield* a.post("g", "")
      const ended = yield* Fiber.join(join).pipe(
        Effect.timeout("10 seconds"),
        Effect.catchTag("TimeoutError", () => Effect.die(new Error("the join never read the task x took away")))
      )
      assert.strictEqual(Option.getOrUndefined(ended)?.runner, "x:1")
      assert.strictEqual(Option.getOrUndefined(ended)?.status, "completed")
    }).pipe(Effect.scoped), 30_000)

  it.live("an expected task that comes to run here is no longer wanted from the others: withdrawn with the next renewal", () =>
    Effect.gen(function*() {
      const a = yield* answeredX
      const { wants, told } = wantsTold(a)
      const renewed = renewals(a, wants)
      const here = record({ runner: "a:1" })
      a.feed.expect(here.id)
      yield* told(JSON.stringify({ t: [], f: [here.id] }))
      // placed here: its final record comes from a's own supervisor
      yield* a.local.submit(Gated, { gate: "here" }, { id: here.id })
      yield* until(() => a.heardOf(here.id).some((info) => info.status === "running"), () => "running here")
      yield* renewed
      assert.strictEqual(wants().at(-1), JSON.stringify({ t: [] }))
    }).pipe(Effect.scoped), 30_000)

  it.live("a record read unfinished after its task was heard finished is not re-read after a loss; one read unfinished first is", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const done = record()
      yield* a.tell([{ i: finished(done) }])
      yield* a.settle()
      // reads older than what was heard (a read crossing the notification), and one of a task never heard of
      yield* a.feed.observed(done)
      const open = record()
      yield* a.feed.observed(open)
      // a number missing: the re-read after the loss
      yield* a.settle({ seq: 1_000 })
      assert.strictEqual(a.faults.gets.get(open.id), 1, "reads of the task read unfinished")
      assert.strictEqual(a.faults.gets.get(done.id), undefined, "reads of the task heard finished")
    }).pipe(Effect.scoped), 30_000)

  it.live("a task that came to run here and ended here is told ended once: a read of it after is no news", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      const moved = record({ heartbeatAt: 100 })
      yield* a.tell([{ i: moved }])
      yield* a.settle()
      yield* a.local.submit(Gated, { gate: "ended" }, { id: moved.id })
      yield* a.step("ended", 100)
      yield* until(() => a.heardOf(moved.id).some((info) => info.status === "completed"), () => "completed here")
      // x names it by its id (a late notification): read from the store, the final record told already
      yield* a.tell([{ r: moved.id }])
      yield* a.settle()
      assert.deepStrictEqual(a.heardOf(moved.id).map((info) => `${info.runner}:${info.status}`), ["x:1:running", "a:1:pending", "a:1:running", "a:1:completed"])
    }).pipe(Effect.scoped), 30_000)

  it.live("a task run here and read again after a loss is still run here: a runner's leaving does not read it for its join", () =>
    Effect.gen(function*() {
      const a = yield* blindCluster
      const { join, running: here } = yield* joinedRunningHere(a, "stays")
      // a number missing: the re-read after the loss reads it (its join follows it), as this runner's record
      yield* a.settle({ seq: 1_000 })
      assert.strictEqual(a.faults.gets.get(here.id), 1, "reads of the task after the loss")
      // x leaves: the join of x's task is read (the witness that x's leaving read what it reads), not the one run here
      const remote = yield* finishedUntold(a)
      const remoteJoin = yield* Effect.forkChild(a.feed.finalRecord(remote.id, countedRead(new Map(), remote)), { startImmediately: true })
      yield* a.post("g", "", { seq: 1_001 })
      assert.deepStrictEqual(yield* Fiber.join(remoteJoin), Option.some(remote))
      assert.strictEqual(a.faults.gets.get(here.id), 1, "reads of the task run here on x's leaving")
      yield* a.step("stays", 100)
      assert.strictEqual(Option.getOrUndefined(yield* Fiber.join(join))?.status, "completed")
    }).pipe(Effect.scoped), 30_000)

  it.live("a join waiting unread for a task run here wants its final record from the others once this runner lets it go unfinished", () =>
    Effect.gen(function*() {
      const a = yield* blindCluster
      // run here: its expectation no longer wants it of the others, nor does its join (which waits unread)
      const { join, running: moving } = yield* joinedRunningHere(a, "moving")
      const wantsBefore = a.sent("w").length
      // its shard moves: a lets it go (back to pending), and wants its final record of whichever runner adopts it
      yield* a.local.handOff(moving.id)
      const wants = () => a.sent("w").slice(wantsBefore).map((notification) => notification.body)
      yield* until(() => wants().some((body) => body.includes(moving.id)), () => `a's wants since: ${JSON.stringify(wants())}`)
      // x adopts it and ends it: its notification ends the join
      const ended = finished({ ...record(), id: moving.id, attempt: 2 })
      yield* a.tell([{ i: ended }])
      assert.deepStrictEqual(yield* Fiber.join(join), Option.some(ended))
    }).pipe(Effect.scoped), 30_000)

  it.live("a task deleted here and submitted again under its id has its new final record kept unsent: a want arriving later gets it", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle()
      const id = record().id
      const completions = () => a.changes.seen.filter((info) => info.id === id && info.status === "completed").length
      const decided = sendsDecided(a)
      yield* a.local.submit(Gated, { gate: "first" }, { id })
      yield* a.step("first", 100)
      yield* until(() => completions() === 1, () => "the first completed")
      yield* a.local.delete(id)
      yield* until(() => a.sentOf(id).some((item) => item.d !== undefined), () => "the deletion sent")
      // the same id again: nobody wants it, so its final record is kept, the deletion long decided
      yield* a.local.submit(Gated, { gate: "second" }, { id })
      yield* a.step("second", 100)
      yield* until(() => completions() === 2, () => "the second completed")
      yield* decided
      yield* a.post("w", JSON.stringify({ t: [], f: [id] }))
      yield* until(() => a.sentOf(id).some((item) => item.i?.status === "completed"), () => JSON.stringify(a.sentOf(id)))
    }).pipe(Effect.scoped), 30_000)

  it.live("a final record kept unsent is sent once: a second want of its task gets nothing more", () =>
    Effect.gen(function*() {
      const a = yield* cluster()
      yield* a.settle()
      const decided = sendsDecided(a)
      const kept = yield* a.local.submit(Gated, { gate: "kept" })
      yield* a.step("kept", 100)
      yield* until(() => a.changes.seen.some((info) => info.id === kept.id && info.status === "completed"), () => "completed")
      yield* decided
      const finals = () => a.sentOf(kept.id).filter((item) => item.i?.status === "completed").length
      yield* a.post("w", JSON.stringify({ t: [], f: [kept.id] }))
      yield* until(() => finals() === 1, () => JSON.stringify(a.sentOf(kept.id)))
      // x wants it again (its every record now): it has it, and a keeps nothing more of it
      yield* a.post("w", JSON.stringify({ t: [kept.id], f: [kept.id] }))
      yield* a.settle()
      yield* decided
      assert.strictEqual(finals(), 1)
    }).pipe(Effect.scoped), 30_000)
})
