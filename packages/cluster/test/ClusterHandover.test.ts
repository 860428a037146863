/**
 * A task whose runner goes (`TaskEntity`'s hand-over and adoption): runners of
 * `Runner.layer` in the test process on one fresh PostgreSQL schema
 * (`InProcessCluster.ts`). A runner stopped as SIGTERM stops it hands its
 * tasks over (stopped at their checkpoint, left pending); the runner taking
 * their shards adopts them and runs them on from there, and an await begun
 * before the move ends with the final record, on both admission paths (a
 * task submitted on its shard's owner is handed over by the shard's guard or
 * by its entity). A runner starting alone adopts
 * what is left unfinished in the store. `kill -9` stays in `Cluster.test.ts`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { eventually, Gated, guarding, Hold, idOn, keyOn, makeCluster, Scan, settled, type TestCluster } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/** What the kinds did with task `id`, as `<event> <runner> <attempt>` (a scan's start with its next step). */
const story = (cluster: TestCluster, id: string) =>
  cluster.happenings.filter((h) => h.task === id).map((h) =>
    `${h.event} ${h.runner} ${h.attempt}${h.next === undefined ? "" : ` from ${h.next}`}`)

/** Waits until the kinds' story of task `id` has `count` lines. */
const told = (cluster: TestCluster, id: string, count: number) =>
  eventually(Effect.sync(() => story(cluster, id).length >= count), () => `task ${id}: ${JSON.stringify(story(cluster, id))}`)

describe.skipIf(pgTestUrl === undefined)("hand-over and adoption", () => {
  // Both admission paths: a task submitted on the runner owning its shard is admitted by that runner's own
  // supervisor and handed over by its shard's guard (direct admission), or goes through the entity like any other.
  for (const direct of [false, true]) {
    const path = direct ? "direct admission" : "through the entity"
    it.live(`(${path}) a runner that stops hands its tasks over: the runner taking their shards runs them on from their checkpoint, and an await through it ends with the final record`, () =>
      Effect.gen(function*() {
        const cluster = yield* makeCluster
        const a = yield* cluster.start("a", { directAdmission: direct })
        const b = yield* cluster.start("b", { directAdmission: direct })
        yield* settled([a, b])
        if (direct) yield* guarding(a)
        // a scan and a held key on a, submitted through b; a scan on a submitted through a
        const scan = yield* b.tasks.submit(Scan, { gate: "scan", from: 1, to: 3 }, { id: yield* idOn(a, "scan") })
        const held = yield* b.tasks.submit(Hold, { key: yield* keyOn(a, "hold"), gate: "held" })
        const own = yield* a.tasks.submit(Scan, { gate: "own", from: 1, to: 2 }, { id: yield* idOn(a, "own") })
        yield* Effect.forEach(["scan/1", "own/1"], cluster.open)
        for (const id of [scan.id, own.id]) {
          yield* eventually(
            Effect.map(Effect.orDie(b.tasks.get(id)), (info) => (info.checkpoint as { next?: number } | null)?.next === 2),
            () => `${id} saves its first step`
          )
        }
        yield* told(cluster, held.id, 1)
        const awaiting = yield* Effect.forkScoped(b.tasks.awaitInfo(scan.id))
        yield* a.stop
        // stopped on a at its checkpoint (the held task's finalizer ran there), then adopted by b
        yield* told(cluster, scan.id, 2)
        yield* told(cluster, own.id, 2)
        yield* told(cluster, held.id, 3)
        assert.deepStrictEqual(story(cluster, held.id).slice(0, 2), ["start a 1", "finalizer a 1"])
        assert.match(story(cluster, held.id)[2]!, /^start b/)
        assert.match(story(cluster, scan.id)[1]!, /^start b \d+ from 2$/)
        assert.match(story(cluster, own.id)[1]!, /^start b \d+ from 2$/)
        yield* Effect.forEach(["scan/2", "scan/3", "own/2", "held"], cluster.open)
        const final = yield* Fiber.join(awaiting)
        assert.deepInclude(final, { status: "completed", result: 6, runner: b.address })
        assert.deepInclude(yield* b.tasks.awaitInfo(own.id), { status: "completed", result: 3, runner: b.address })
        assert.deepInclude(yield* b.tasks.awaitInfo(held.id), { status: "completed", result: "b", runner: b.address })
        assert.deepStrictEqual((yield* b.status.tasks), { running: 0, pending: 0 })
      }).pipe(Effect.scoped), { timeout: 60_000 })
  }

  it.live("a runner starting alone adopts the tasks another left unfinished, running and waiting", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      // one worker: the second task waits
      const a = yield* cluster.start("a", { maxWorkers: 1 })
      yield* settled([a])
      const first = yield* a.tasks.submit(Gated, { gate: "first" })
      const second = yield* a.tasks.submit(Gated, { gate: "second" })
      yield* eventually(Effect.map(a.status.tasks, (tasks) => tasks.running === 1 && tasks.pending === 1), () => "one runs, one waits")
      yield* a.stop
      const b = yield* cluster.start("b")
      yield* Effect.forEach(["first", "second"], cluster.open)
      for (const id of [first.id, second.id]) {
        // b runs them now: its records name b, not a, the runner they were adopted from
        assert.deepInclude(yield* b.tasks.awaitInfo(id), { status: "completed", result: "b", runner: b.address })
        assert.deepInclude(yield* b.tasks.get(id), { runner: b.address })
      }
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
