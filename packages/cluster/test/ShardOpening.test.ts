/**
 * What a shard does between its acquisition and its opening (`OpenShards`):
 * the runner that acquires it adopts its unfinished tasks (their keys held
 * here) before it admits any new submission of it, through the entity
 * (`Submit`) or directly (`LocalAdmission`); and a shard whose tasks were
 * handed over is adopted again when held again, however soon. Runners of
 * `Runner.layer` in the test process (`InProcessCluster.ts`) on PostgreSQL,
 * each test on both admission paths; faults are injected into the adopting
 * runner's task store.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Option } from "effect"
import { TaskError, type TaskStore } from "@chainjobs/tasks"
import { TaskEntity } from "@chainjobs/cluster"
import {
  eventually,
  Gated,
  guarding,
  Hold,
  makeCluster,
  sameBucket,
  scansAtSecondStep,
  settled,
  shards,
  story,
  takenOver
} from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/**
 * A store whose adoption reads of the unfinished records (`TaskEntity.adoptionReadSpan`) wait until `gate` opens;
 * the first of them is then refused, as a lost connection would be, and the later ones pass. Other reads of them
 * (the feed's) pass at once.
 */
const gatedAdoption = () => {
  const gate = Deferred.makeUnsafe<void>()
  const seen = { reads: 0, refused: 0 }
  const wrap = (store: TaskStore.TaskStore["Service"]): TaskStore.TaskStore["Service"] => ({
    ...store,
    unfinished: Effect.flatMap(Effect.option(Effect.currentSpan), (span) => {
      if (Option.isNone(span) || span.value.name !== TaskEntity.adoptionReadSpan) return store.unfinished
      const first = seen.reads++ === 0
      return Effect.andThen(
        Deferred.await(gate),
        first
          ? Effect.suspend(() => {
            seen.refused++
            return Effect.fail(new TaskError.TaskStoreError({ operation: "unfinished", detail: "refused by the test" }))
          })
          : store.unfinished
      )
    })
  })
  return { gate, seen, wrap }
}

const maxWorkers = 30

describe.skipIf(pgTestUrl === undefined)("a shard between its acquisition and its opening", () => {
  for (const direct of [false, true]) {
    const path = direct ? "direct admission" : "through the entity"
    it.live(`(${path}) a key handed over with its task is busy on the runner acquiring it from the first submission: one made while the adoption's read waits, then fails, is refused once the task is adopted`, () =>
      Effect.gen(function*() {
        const cluster = yield* makeCluster
        const a = yield* cluster.start("a")
        yield* settled([a])
        const key = "k"
        const first = yield* a.tasks.submit(Hold, { key, gate: key })
        yield* eventually(
          Effect.sync(() => story(cluster, first.id).includes("start a 1")),
          () => `the key's task starts on a: ${JSON.stringify(story(cluster, first.id))}`
        )
        // a hands the task over (stopped, left pending): the key is free until a runner adopts it
        yield* a.stop
        const fault = gatedAdoption()
        const b = yield* cluster.start("b", { storeFault: fault.wrap, directAdmission: direct })
        const entityId = TaskEntity.placement({ id: "", kind: "hold", key })
        yield* eventually(
          Effect.sync(() => b.holds(entityId) && fault.seen.reads > 0),
          () => `b holds the key's shard (${b.holds(entityId)}) and its adoption reads (${fault.seen.reads} reads)`
        )
        // the path a submission made on b takes: its guard is open (direct), or there is none (entity)
        if (direct) yield* guarding(b)
        assert.strictEqual(yield* b.status.shardsOpen, 0, "no shard opens before its tasks are adopted")
        const second = yield* b.tasks.submit(Hold, { key, gate: key }).pipe(Effect.exit, Effect.forkChild)
        // Far longer than an admission takes (a few ms): the submission waits for the shard to open.
        yield* Effect.sleep("1 second")
        assert.isUndefined(second.pollUnsafe(), "the submission waits while the shard's tasks are not adopted")
        // the adoption's read fails once (the shard stays closed), then passes at the next look
        yield* Deferred.succeed(fault.gate, undefined)
        const exit = yield* Fiber.join(second)
        assert.isTrue(Exit.isFailure(exit), `the second submission of the key was admitted: ${Exit.isSuccess(exit) ? exit.value.id : ""}`)
        assert.deepInclude(Exit.isFailure(exit) ? Option.getOrUndefined(Exit.findErrorOption(exit)) : undefined, {
          _tag: "SubmitRejected",
          reason: "key-busy",
          key,
          holder: first.id
        })
        assert.strictEqual(fault.seen.refused, 1)
        yield* eventually(
          Effect.sync(() => story(cluster, first.id).some((line) => line.startsWith("start b"))),
          () => `the key's task starts again on b: ${JSON.stringify(story(cluster, first.id))}`
        )
        yield* cluster.open(key)
        assert.deepInclude(yield* b.tasks.awaitInfo(first.id), { status: "completed", result: "b" })
        const lines = story(cluster, first.id)
        assert.deepStrictEqual(lines.slice(0, 2), ["start a 1", "finalizer a 1"])
        // adopted once, on b, where it ends (its finalizer runs at its end too)
        assert.match(lines[2] ?? "", /^start b \d+$/, JSON.stringify(lines))
        assert.strictEqual(lines[3], `finalizer ${lines[2]!.slice("start ".length)}`, JSON.stringify(lines))
        assert.strictEqual(lines.length, 4, JSON.stringify(lines))
        const page = yield* b.tasks.list({ kind: ["hold"] })
        assert.deepStrictEqual(page.items.map((info) => info.id), [first.id], "one task of the key")
      }).pipe(Effect.scoped), { timeout: 90_000 })

    it.live(`(${path}) a shard released and held again between two looks of the adoption is adopted again: its handed-over tasks run on`, () =>
      Effect.gen(function*() {
        const cluster = yield* makeCluster
        // a's adoption looks when asked (a submission waiting for a shard, a shard closing), never by the clock here
        const a = yield* cluster.start("a", { maxWorkers, directAdmission: direct, adoptionInterval: "10 minutes" })
        yield* settled([a])
        const ids = Array.from({ length: 24 }, (_, i) => `scan-${i}`)
        yield* scansAtSecondStep(cluster, a, ids)
        // b joins and takes some of a's shards (a hands their scans over), then stops: a holds them again
        const b = yield* cluster.start("b", { maxWorkers })
        yield* settled([a, b])
        const moved = yield* takenOver(cluster, b, ids)
        yield* b.stop
        yield* eventually(Effect.map(a.status.shardsHeld, (held) => held === shards), () => "a holds every shard again")
        // A submission on a moved shard asks a's adoption to look, with no look between the shards' release and
        // their acquisition: only a shard closed when its tasks were handed over is adopted again.
        const probe = yield* a.tasks.submit(Gated, { gate: "probe" }, { id: sameBucket(moved[0]!) })
        yield* Effect.forEach(moved, (id) =>
          eventually(
            Effect.sync(() => story(cluster, id).filter((line) => line.startsWith("start a")).length === 2),
            () => `${id} starts again on a: ${JSON.stringify(story(cluster, id))}`
          ), { discard: true })
        yield* Effect.forEach([...ids.map((id) => `${id}/2`), "probe"], cluster.open, { discard: true })
        for (const id of ids) {
          assert.deepInclude(yield* a.tasks.awaitInfo(id), { status: "completed", result: 3, runner: a.address })
        }
        for (const id of moved) {
          const lines = story(cluster, id)
          assert.strictEqual(lines.length, 4, `${id}: ${JSON.stringify(lines)}`)
          assert.strictEqual(lines[0], "start a 1 from 1")
          assert.match(lines[1]!, /^start b \d+ from 2$/, `${id}: ${JSON.stringify(lines)}`)
          assert.match(lines[2]!, /^start a \d+ from 2$/, `${id}: ${JSON.stringify(lines)}`)
          assert.match(lines[3]!, /^end a \d+$/, `${id}: ${JSON.stringify(lines)}`)
        }
        assert.deepInclude(yield* a.tasks.awaitInfo(probe.id), { status: "completed", result: "a" })
        assert.deepStrictEqual(cluster.overlaps, [])
      }).pipe(Effect.scoped), { timeout: 120_000 })
  }
})
