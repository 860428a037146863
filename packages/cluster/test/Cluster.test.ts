/**
 * Three runner child processes on 127.0.0.1 sharing one PostgreSQL schema
 * (`RunnerProcess.ts`, `runner.ts`): tasks spread over all three, an interrupt
 * sent to one runner stops a task running on another (its finalizer runs
 * there), an exclusive key holds across runners, Hardhat address scans survive `kill -9` of
 * their runner, a schedule every runner declares runs once cluster-wide, and a
 * rolling restart loses no acknowledged task.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import { SqlClient } from "effect/sql"
import { ClusterFeed } from "@chainjobs/cluster"
import type { TaskInfo } from "@chainjobs/tasks"
import { type Event, makeCluster, onDatabase, pgTestUrl, type RunnerProcess, settled, type TestCluster } from "./RunnerProcess.ts"

if (pgTestUrl === undefined) {
  console.log("cluster: skipping the cluster tests: CHAINJOBS_TEST_PG_URL is not set (.ci/run sets it)")
}

/** Three runners on a fresh schema, `env` added to each one's environment. */
const startThree = (env: Readonly<Record<string, string>> = {}) => Effect.gen(function*() {
  const cluster = yield* makeCluster
  // all three at once on the fresh schema: runners take turns making its tables
  const runners = yield* Effect.forEach(["a", "b", "c"], (name) => cluster.start(name, env), { concurrency: "unbounded" })
  yield* settled(runners)
  return { cluster, runners }
})

/**
 * Three runners started once and shared, in order, by the tests that leave them as they found them (nothing left
 * running, none stopped), then by the rolling restart, which replaces them and so comes last. A runner's start is
 * most of such a test's time on a loaded machine (its modules, about 1.5 s of CPU each); shared, the file starts
 * three runners fewer twice.
 */
class SharedThree extends Context.Service<SharedThree, {
  readonly cluster: TestCluster
  readonly runners: ReadonlyArray<RunnerProcess>
}>()("test/cluster/SharedThree") {}

/**
 * Placed by shard: tasks submitted through one runner spread by their ids over all three, however soon its workers
 * are free again (under `local`, the default, a loaded machine's slow submissions may all find a free worker on the
 * runner they reach, and stay there).
 */
const sharedThree = Layer.effect(SharedThree, Effect.map(startThree({ RUNNER_PLACEMENT: "shard" }), SharedThree.of))

/** Submits through `via` and fails the test when the submission was refused. */
const submitted = (via: RunnerProcess, kind: string, payload: unknown) =>
  Effect.map(via.submit(kind, payload), (answer) => {
    assert.isUndefined(answer.error, `submission refused: ${answer.error}`)
    return answer.id!
  })

/**
 * Waits until `find` returns something, reading again every 100 ms, at most 30 s (a task starts, a schedule ticks
 * within seconds of being asked); then dies saying what it waited for and the cluster's events seen.
 */
const eventually = <A>(what: string, cluster: TestCluster, find: () => A | undefined) =>
  Effect.gen(function*() {
    for (;;) {
      const found = find()
      if (found !== undefined) return found
      yield* Effect.sleep("100 millis")
    }
  }).pipe(
    Effect.timeout("30 seconds"),
    Effect.catchTag("TimeoutError", () =>
      Effect.die(new Error(`${what}: not seen in 30 s; events: ${JSON.stringify(cluster.events().slice(-20))}`)))
  )

/** The first event of `cluster` that `match` accepts, once there is one (`eventually`). */
const eventSeen = (what: string, cluster: TestCluster, match: (event: Event) => boolean) =>
  eventually(what, cluster, () => cluster.events().find(match))

/** A change as a runner's feed followed it (`runner.ts`' `follow` and `watch`). */
interface Brief {
  readonly id: string
  readonly status: string
  readonly progress: number
  readonly runner: string
  readonly deleted: boolean
}

/** Asks `runner` again every 100 ms until its answer passes `done` (at most 10 s): its last answer. */
const answered = (runner: RunnerProcess, op: Record<string, unknown>, done: (answer: any) => boolean) =>
  Effect.gen(function*() {
    for (;;) {
      const answer = yield* runner.call(op)
      if (done(answer)) return answer
      yield* Effect.sleep("100 millis")
    }
  }).pipe(
    Effect.timeout("10 seconds"),
    Effect.catchTag("TimeoutError", () =>
      Effect.flatMap(runner.call(op), (last) => Effect.die(new Error(`${runner.name} never answered as expected: ${JSON.stringify(last)}`))))
  )

/**
 * Ticks of a one-second schedule run once per second cluster-wide: never more ticks than the seconds they span
 * allow (with slack for ticks the machine's load made late), and never two at one boundary (three runners each
 * ticking would tick within a few ms of each other, three times a second).
 */
const assertOncePerSecond = (times: ReadonlyArray<number>, detail: string) => {
  const sorted = [...times].sort((x, y) => x - y)
  const spanSeconds = Math.floor((sorted[sorted.length - 1]! - sorted[0]!) / 1000)
  assert.isAtMost(sorted.length, spanSeconds + 3, `${sorted.length} ticks within ${spanSeconds + 1} s: ${detail}`)
  for (let i = 1; i < sorted.length; i++) {
    assert.isAtLeast(sorted[i]! - sorted[i - 1]!, 50, `two ticks ${sorted[i]! - sorted[i - 1]!} ms apart: ${detail}`)
  }
}

describe.skipIf(pgTestUrl === undefined)("a cluster of three runners", () => {
  layer(sharedThree, { excludeTestServices: true, timeout: 60_000 })("three runners shared in turn", (it) => {
    it.effect("spreads tasks over all three, interrupts across runners and holds exclusive keys cluster-wide", () =>
      Effect.gen(function*() {
        const { cluster, runners } = yield* SharedThree
        const [a, b, c] = runners

        // Submitted through one runner, run by all three: placed by shard, spread by their ids.
        const ids = yield* Effect.forEach(Array.from({ length: 150 }, (_, i) => i), () => submitted(a, "sleep", { ms: 500 }), {
          concurrency: "unbounded"
        })
        const finished = yield* Effect.forEach(ids, (id) => a.awaitInfo(id), { concurrency: "unbounded" })
        assert.deepStrictEqual(new Set(finished.map((info) => info.status)), new Set(["completed"]))
        assert.deepStrictEqual(new Set(finished.map((info) => info.result)), new Set(["a", "b", "c"]))
        // Each record names the runner that ran it (its transport address), as any runner reads it.
        const addressOf = new Map(runners.map((runner) => [runner.name, `127.0.0.1:${runner.port}`]))
        for (const info of finished) assert.strictEqual(info.runner, addressOf.get(info.result as string))
        const read = yield* c.call({ op: "get", id: ids[0] })
        assert.strictEqual(read.info.runner, addressOf.get(finished[0].result as string))

        // A task running on b, interrupted through a: its finalizer runs on b.
        let onB: Event | undefined
        // the holds that started on a or c, interrupted at the end: the runners are left with nothing running
        const elsewhere: Array<string> = []
        for (let i = 0; onB === undefined; i++) {
          const id = yield* submitted(a, "hold", { key: `interrupt-${i}` })
          const started = yield* eventSeen(`${id} started`, cluster, (e) => e.event === "start" && e.task === id)
          if (started.runner === "b") onB = started
          else elsewhere.push(id)
        }
        yield* a.call({ op: "interrupt", id: onB.task })
        const finalizer = cluster.events().find((e) => e.event === "finalizer" && e.task === onB!.task)
        assert.strictEqual(finalizer?.runner, "b")
        assert.strictEqual((yield* c.awaitInfo(onB.task)).status, "interrupted")

        // A key held by a task on one runner refuses a submission of the key made on each runner.
        const holder = yield* submitted(a, "hold", { key: "exclusive" })
        yield* eventSeen(`${holder} started`, cluster, (e) => e.event === "start" && e.task === holder)
        for (const via of [a, b, c]) {
          assert.strictEqual((yield* via.submit("hold", { key: "exclusive" })).error, "SubmitRejected")
        }
        yield* b.call({ op: "interrupt", id: holder })
        // Free again once the holder stopped.
        const next = yield* submitted(c, "hold", { key: "exclusive" })
        yield* c.call({ op: "interrupt", id: next })
        yield* Effect.forEach(elsewhere, (id) => b.call({ op: "interrupt", id }), { discard: true })
      }).pipe(Effect.scoped), { timeout: 60_000 })

    it.effect("every runner hears every runner's changes: a task's watch, the all-tasks feed, deletions and counts", () =>
      Effect.gen(function*() {
        const { cluster, runners } = yield* SharedThree
        const [a, b, c] = runners
        const addressOf = new Map(runners.map((runner) => [runner.name, `127.0.0.1:${runner.port}`]))
        for (const runner of runners) yield* runner.call({ op: "follow" })

        // Tasks submitted through b and c, spread over all three (shard placement); a follows each of them live,
        // wherever it runs.
        const submitWatched = (via: RunnerProcess) =>
          Effect.tap(submitted(via, "steps", { steps: 8, stepMs: 100 }), (id) => a.call({ op: "watch", id }))
        const ids = yield* Effect.forEach(Array.from({ length: 9 }, (_, i) => i), (i) => submitWatched(i % 2 === 0 ? b : c))
        const finished = yield* Effect.forEach(ids, (id) => a.awaitInfo(id), { concurrency: "unbounded" })
        // Placed by shard, a task goes to the owner of its id's shard: nine may all miss b's shards (about 1 in 40),
        // so more follow one at a time until one ran on b.
        for (let more = 0; more < 30 && !finished.some((info) => info.runner === addressOf.get("b")); more++) {
          const id = yield* submitWatched(b)
          ids.push(id)
          finished.push(yield* a.awaitInfo(id))
        }
        const onB = finished.filter((info) => info.runner === addressOf.get("b"))
        assert.isAbove(onB.length, 0, "no task ran on b")
        for (const info of onB) {
          const watched = yield* answered(a, { op: "watched", id: info.id }, (answer) => answer.ended === true)
          const statuses = watched.changes.map((change: Brief) => change.status)
          assert.strictEqual(statuses[statuses.length - 1], "completed")
          const steps = watched.changes.filter((change: Brief) => change.progress > 0 && change.progress < 100)
          assert.isAtLeast(steps.length, 3, `a heard too little of ${info.id}'s progress on b: ${JSON.stringify(watched.changes)}`)
        }
        // Every runner's all-tasks feed heard every task finish, wherever it ran.
        for (const runner of runners) {
          const { changes } = yield* answered(runner, { op: "followed" }, ({ changes }) => {
            const completed = new Set(changes.filter((change: Brief) => change.status === "completed").map((change: Brief) => change.id))
            return ids.every((id) => completed.has(id))
          })
          // of this test's tasks: a runner's all-tasks stream may begin with the final records of tasks that ended
          // shortly before it opened (`ClusterFeed`'s kept records)
          const ranOn = new Set(changes.filter((change: Brief) => ids.includes(change.id)).map((change: Brief) => change.runner))
          // the runners the tasks ran on, b among them (a task goes to its bucket's owner: not always to all three)
          assert.deepStrictEqual(ranOn, new Set(finished.map((info) => info.runner)), `${runner.name} heard tasks of ${[...ranOn]}`)
        }

        // A deletion made through a is heard on b's and c's feeds.
        yield* a.call({ op: "delete", id: onB[0].id })
        for (const runner of [b, c]) {
          yield* answered(runner, { op: "followed" }, ({ changes }) =>
            changes.some((change: Brief) => change.id === onB[0].id && change.deleted))
        }

        // The listeners' connections broken while a task on b ends: a's watch of it still ends with its final record,
        // read again once a listens again.
        // A task running on another runner than a, cut off while it has less left to run than a listener's retry waits.
        let brief = ""
        for (let running: TaskInfo.TaskInfo | undefined; running?.runner === undefined || running.runner === addressOf.get("a");) {
          brief = yield* submitted(c, "steps", { steps: 4, stepMs: 100 })
          yield* a.call({ op: "watch", id: brief })
          running = (yield* answered(a, { op: "get", id: brief }, (answer) => answer.info.status !== "pending")).info
        }
        const channel = ClusterFeed.channelOf(cluster.schema)
        const cut = yield* onDatabase(Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          return yield* sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE datname = current_database() AND query LIKE ${`LISTEN%${channel}%`}`
        }))
        assert.strictEqual(cut.length, 3, "one listener per runner")
        // A task submitted just after the cut, done before the listeners are back (they retry after a second).
        const inside = yield* submitted(c, "sleep", { ms: 10 })
        const watched = yield* answered(a, { op: "watched", id: brief }, (answer) => answer.ended === true)
        assert.strictEqual(watched.changes[watched.changes.length - 1].status, "completed")
        // Every runner's all-tasks feed announces it, wherever it ran: its final record, read again.
        for (const runner of runners) {
          yield* answered(runner, { op: "followed" }, ({ changes }) =>
            changes.some((change: Brief) => change.id === inside && change.status === "completed"))
        }

        // Counts agree: six tasks holding their keys, wherever they run, are counted by every runner.
        const held = yield* Effect.forEach(Array.from({ length: 6 }, (_, i) => i), (i) => submitted(b, "hold", { key: `count-${i}` }))
        for (const runner of runners) {
          yield* answered(runner, { op: "stats" }, ({ stats }) => stats.running === 6 && stats.maxWorkers === 150)
        }
        yield* Effect.forEach(held, (id) => c.call({ op: "interrupt", id }), { discard: true })
      }).pipe(Effect.scoped), { timeout: 90_000 })

    it.effect("a rolling restart of all three runners loses no acknowledged task", () =>
      Effect.gen(function*() {
        const { cluster, runners } = yield* SharedThree
        // the replacements load their modules meanwhile (none is in the cluster until it joins)
        const replacements = yield* Effect.forEach(["a2", "b2", "c2"], (name) => cluster.prepare(name))
        let current = [...runners]
        const acknowledged: Array<string> = []
        const submitSome = (via: RunnerProcess) =>
          Effect.forEach(Array.from({ length: 10 }, (_, i) => i), () =>
            Effect.map(via.submit("sleep", { ms: 300 }), (answer) => {
              if (answer.id !== undefined) acknowledged.push(answer.id)
            }))
        for (const [i, prepared] of replacements.entries()) {
          const survivor = current[(i + 1) % 3]
          yield* submitSome(survivor)
          yield* current[i].stop
          yield* submitSome(survivor)
          const replacement = yield* prepared.join
          current = current.map((runner, k) => (k === i ? replacement : runner))
          yield* settled(current)
        }
        const finished = yield* Effect.forEach(acknowledged, (id) => current[0].awaitInfo(id), { concurrency: "unbounded" })
        assert.strictEqual(acknowledged.length, 60)
        assert.deepStrictEqual(new Set(finished.map((info) => info.status)), new Set(["completed"]))
      }).pipe(Effect.scoped), { timeout: 120_000 })
  })

  it.live("after kill -9 of a runner, its Hardhat address scans finish elsewhere from their checkpoint, with the undisturbed result and no two attempts overlapping", () =>
    Effect.gen(function*() {
      // A Hardhat node with known activity, scanned by the chain kind `chain/scan-addresses` on every runner. The
      // runners load their modules (the chain package among them: most of a runner's start) while the node is seeded,
      // and join with its URL; not while it starts, which has a deadline of its own.
      const chain = yield* Layer.build(DevChain.layer())
      const url = Context.get(chain, DevChain.DevChain).url
      const cluster = yield* makeCluster
      const prepared = yield* Effect.forEach(["a", "b", "c"], (name) => cluster.prepare(name, { RUNNER_CHAIN: "1" }))
      const seeded = yield* Effect.provideContext(DevSeed.seed({ rounds: 24, maxGap: 2 }), chain)
      const runners = yield* Effect.forEach(prepared, (runner) => runner.joinWith({ CHAIN_URL: url, CHAIN_RATE: "25" }), {
        concurrency: "unbounded"
      })
      yield* settled(runners)
      const [a, b, c] = runners
      // Each scan its own address set (an exclusive key, so a shard of its own): two blocks per chunk and checkpoint.
      // Six pairs first; a scan's shard may be a's or c's, so more sets (other pairs, then triples) follow while no
      // scan runs on b: six scans all miss b about one run in eleven.
      const participants = seeded.participants
      const pairs = participants.flatMap((x, i) => participants.slice(i + 1).map((y) => [x, y]))
      const triples = participants.flatMap((x, i) =>
        participants.slice(i + 1).flatMap((y, j) => participants.slice(i + j + 2).map((z) => [x, y, z]))
      )
      const ring = participants.map((address, i) => [address, participants[(i + 1) % participants.length]!])
      const named = (set: ReadonlyArray<string>) => [...set].sort().join()
      const inRing = new Set(ring.map(named))
      const candidates = [...ring, ...pairs.filter((set) => !inRing.has(named(set))), ...triples]
      const sets: Array<ReadonlyArray<string>> = []
      const ids: Array<string> = []
      const scanOf = (addresses: ReadonlyArray<string>) => ({
        chain: "dev",
        addresses,
        fromBlock: seeded.fromBlock,
        toBlock: seeded.toBlock,
        chunkSize: 2
      })
      const add = (addresses: ReadonlyArray<string>) =>
        Effect.map(submitted(a, "chain/scan-addresses", scanOf(addresses)), (id) => {
          sets.push(addresses)
          ids.push(id)
        })
      yield* Effect.forEach(candidates.slice(0, participants.length), add, { discard: true })
      // Killed once a scan running on b has saved a checkpoint.
      const onBAddress = `127.0.0.1:${b.port}`
      const checkpointedOnB = yield* Effect.gen(function*() {
        for (let polls = 0;; polls++) {
          const records = yield* Effect.forEach(ids, (id) => Effect.map(a.call({ op: "get", id }), (answer) => answer.info))
          const found = records.filter((info) =>
            info.status === "running" && info.runner === onBAddress && info.checkpoint !== null
          )
          if (found.length > 0) return new Set(found.map((info) => info.id as string))
          const busyOnB = records.some((info) => info.runner === onBAddress && info.status === "running")
          if (!busyOnB && sets.length < candidates.length) yield* add(candidates[sets.length]!)
          assert.isBelow(polls, 300, `no scan ran on b with a checkpoint: ${JSON.stringify(records)}`)
          yield* Effect.sleep("200 millis")
        }
      })
      yield* b.kill
      const killedAt = Date.now()
      const endedOnB = new Set(
        cluster.events().filter((e) => e.event === "end" && e.outcome === "success" && e.runner === "b").map((e) => e.task)
      )

      const finished = yield* Effect.forEach(ids, (id) => c.awaitInfo(id), { concurrency: "unbounded" })
      finished.forEach((info, i) => {
        assert.strictEqual(info.status, "completed", `scan ${i}: ${info.errorMessage}`)
        // the undisturbed result: exactly the seeded activity of its addresses, in chain order
        const result = info.result as { readonly activity: ReadonlyArray<unknown> }
        assert.deepStrictEqual(result.activity, DevSeed.expectedFor(seeded, sets[i]!).map((item) => ({ ...item })), `scan ${i}`)
      })
      const events = cluster.events()
      for (const [i, id] of ids.entries()) {
        const attempts = events.filter((e) => e.task === id && e.event === "start").sort((x, y) => x.at - y.at)
        const ends = events.filter((e) => e.task === id && e.event === "end")
        // Attempts never overlap: each one ended (failed, was interrupted or died with b) before the next started.
        for (let k = 1; k < attempts.length; k++) {
          const previous = attempts[k - 1]!
          const end = ends.find((e) => e.attempt === previous.attempt && e.runner === previous.runner)?.at ??
            (previous.runner === "b" ? killedAt : Infinity)
          assert.isTrue(
            end <= attempts[k]!.at,
            `scan ${i}: attempt ${attempts[k]!.attempt} started before ${previous.attempt} ended (b killed at ${killedAt}): ${
              JSON.stringify(events.filter((e) => e.task === id))
            }`
          )
        }
        // A scan cut short on b after its checkpoint: resumed elsewhere from it, not started over.
        if (checkpointedOnB.has(id) && !endedOnB.has(id)) {
          const resumed = attempts[attempts.length - 1]!
          assert.notStrictEqual(resumed.runner, "b", `scan ${i} finished on the killed runner`)
          assert.isAbove(resumed.next!, seeded.fromBlock, `scan ${i} started over instead of resuming from its checkpoint`)
        }
      }
      assert.isAbove([...checkpointedOnB].filter((id) => !endedOnB.has(id)).length, 0, "no scan was cut short on b")
      void a
    }).pipe(Effect.scoped), { timeout: 120_000 })

  it.live("a one-second schedule declared by all three runners ticks once per second cluster-wide", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const runners = yield* Effect.forEach(["a", "b", "c"], (name) => cluster.start(name, { TICK: "1" }), {
        concurrency: "unbounded"
      })
      yield* settled(runners)
      const ticks = yield* eventually("five ticks", cluster, () => {
        const found = cluster.events().filter((e) => e.event === "tick")
        return found.length >= 5 ? found : undefined
      })
      // Declared three times, run once: three runners each ticking would tick three times on every second's boundary.
      assertOncePerSecond(ticks.map((tick) => tick.at), JSON.stringify(ticks))
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a schedule declared through one runner is stored: it ticks once per second cluster-wide, survives a restart of every runner, and stops when removed", () =>
    Effect.gen(function*() {
      const { cluster, runners } = yield* startThree()
      // the runners of the restart below load their modules while these three tick (none is in the cluster until it joins)
      const prepared = yield* Effect.forEach(["d", "e", "f"], (name) => cluster.prepare(name))
      const declared = yield* runners[0].call({
        op: "declare",
        declaration: { name: "tick", kind: "tick", payload: {}, trigger: { _tag: "Cron", cron: "* * * * * *" } }
      })
      assert.isUndefined(declared.error, `declaration refused: ${declared.error}`)
      const ticks = () => cluster.events().filter((e) => e.event === "tick")
      yield* eventually("three ticks", cluster, () => (ticks().length >= 3 ? true : undefined))
      // Every runner goes; three new ones declare nothing and find it stored.
      yield* Effect.forEach(runners, (runner) => runner.stop, { concurrency: "unbounded", discard: true })
      const restartedAt = Date.now()
      const next = yield* Effect.forEach(prepared, (runner) => runner.join, { concurrency: "unbounded" })
      yield* settled(next)
      yield* eventually("five ticks after the restart", cluster, () =>
        ticks().filter((tick) => tick.at > restartedAt).length >= 5 ? true : undefined)
      // Stored once, run on one runner after the restart: three runners each ticking would tick three times on every second's boundary.
      const after = ticks().filter((tick) => tick.at > restartedAt)
      assertOncePerSecond(after.map((tick) => tick.at), JSON.stringify(after))
      assert.isTrue((yield* next[1].call({ op: "undeclare", name: "tick" })).done)
      const removedAt = Date.now()
      yield* Effect.sleep("5 seconds")
      // every runner reads the store again within a second of the removal; none ticks after that
      assert.deepStrictEqual(ticks().filter((tick) => tick.at > removedAt + 3_000), [])
    }).pipe(Effect.scoped), { timeout: 120_000 })

})
