/**
 * Local placement (`LocalPlacement`, `RunnerSettings.placement: "local"`):
 * an unkeyed task submitted on a runner with a worker free for it goes on a
 * shard that runner admits directly, by the choice of its id's last digits.
 *
 * The choice of an id first, on its own: it stays a UUID v7 of the same time
 * and counter, lands in the bucket wanted, and reaches every bucket. Then two
 * runners of `Runner.layer` in the test process (`InProcessCluster.ts`, real
 * PostgreSQL and socket transport), each placing locally: no submission
 * crosses to the other runner while workers are free, the overflow spreads,
 * a locally placed task is handed over and run on from its checkpoint when
 * its runner stops, and keyed tasks follow their key (exclusive keys hold
 * across runners).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Tracer } from "effect"
import { LocalPlacement, TaskEntity } from "@chainjobs/cluster"
import { TaskInfo } from "@chainjobs/tasks"
import {
  eventually,
  Gated,
  guarding,
  Hold,
  keyOn,
  makeCluster,
  Scan,
  settled,
  story,
  type TestCluster,
  type TestRunner
} from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

const bucketOf = (id: string) => TaskEntity.bucketOf(TaskEntity.hash(id))

describe("LocalPlacement.idInBucket", () => {
  it("keeps a UUID v7 of the same time and counter, in the bucket wanted, changing only its last four digits", () => {
    for (let n = 0; n < 200; n++) {
      const made = TaskInfo.makeId(1_760_000_000_000 + n)
      const wanted = (n * 37) % TaskEntity.buckets
      const placed = LocalPlacement.idInBucket(made, (bucket) => bucket === wanted)
      assert.isDefined(placed, `${made}: no ending reaches bucket ${wanted}`)
      assert.strictEqual(bucketOf(placed!), wanted)
      assert.strictEqual(placed!.slice(0, -4), made.slice(0, -4))
      assert.match(placed!, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    }
  })

  it("keeps the id made when its own bucket is wanted, and tries from its own ending on", () => {
    const made = TaskInfo.makeId(1_760_000_000_000)
    assert.strictEqual(LocalPlacement.idInBucket(made, (bucket) => bucket === bucketOf(made)), made)
    // the first ending after its own whose bucket differs
    const next = LocalPlacement.idInBucket(made, (bucket) => bucket !== bucketOf(made))!
    const start = Number.parseInt(made.slice(-4), 16)
    for (let ending = start; ending !== Number.parseInt(next.slice(-4), 16); ending = (ending + 1) & 0xffff) {
      assert.strictEqual(bucketOf(made.slice(0, -4) + ending.toString(16).padStart(4, "0")), bucketOf(made))
    }
  })

  it("reaches every bucket from any id within its endings, and answers undefined when none is wanted", () => {
    for (let n = 0; n < 8; n++) {
      const made = TaskInfo.makeId(1_760_000_000_000 + n * 7919)
      const reached = new Set<number>()
      for (let bucket = 0; bucket < TaskEntity.buckets; bucket++) {
        const placed = LocalPlacement.idInBucket(made, (b) => b === bucket)
        if (placed !== undefined && bucketOf(placed) === bucket) reached.add(bucket)
      }
      assert.strictEqual(reached.size, TaskEntity.buckets, made)
    }
    assert.isUndefined(LocalPlacement.idInBucket(TaskInfo.makeId(0), () => false))
  })
})

/** Workers per runner: few, so that a handful of tasks fills them. */
const maxWorkers = 4

/** Spans of the cluster calls made while `effect` runs, by name (`….client.Submit` for a `Submit` sent): what crossed. */
const tracing = () => {
  const spans: Array<string> = []
  const tracer = Tracer.make({
    span(options) {
      spans.push(options.name)
      return Tracer.nativeTracer.span(options)
    }
  })
  return { spans, traced: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.withTracer(effect, tracer) }
}

/** Two runners, a and b, placing unkeyed tasks locally, every shard held between them and guarded. */
const twoLocal = Effect.gen(function*() {
  const cluster = yield* makeCluster
  const a = yield* cluster.start("a", { maxWorkers, directAdmission: true, placement: "local" })
  const b = yield* cluster.start("b", { maxWorkers, directAdmission: true, placement: "local" })
  yield* settled([a, b])
  yield* guarding(a)
  yield* guarding(b)
  return { cluster, a, b }
})

/** Which runner each task's record says runs it, once each is running or finished. */
const runnersOf = (runner: TestRunner, ids: ReadonlyArray<string>) =>
  Effect.forEach(ids, (id) => Effect.map(Effect.orDie(runner.tasks.get(id)), (info) => info.runner))

/** Waits until `id` has started on some runner (its kind recorded it). */
const startedAnywhere = (cluster: TestCluster, id: string) =>
  eventually(
    Effect.sync(() => story(cluster, id).some((line) => line.startsWith("start"))),
    () => `${id} starts: ${JSON.stringify(story(cluster, id))}`
  )

describe.skipIf(pgTestUrl === undefined)("local placement on two runners", () => {
  it.live("no submission crosses to another runner while workers are free; the overflow spreads over both", () =>
    Effect.gen(function*() {
      const { a, b, cluster } = yield* twoLocal
      const { spans, traced } = tracing()
      // as many at once as a has workers: each takes one of a's shards
      const first = yield* traced(
        Effect.forEach(Array.from({ length: maxWorkers }, (_, i) => i), () => a.tasks.submit(Gated, { gate: "first" }), {
          concurrency: "unbounded"
        })
      )
      const firstIds = first.map((handle) => handle.id)
      for (const id of firstIds) assert.isTrue(a.holds(TaskEntity.placement({ id, kind: "gated", key: null })), `${id} on a's shard`)
      assert.deepStrictEqual(spans.filter((name) => name.endsWith(".Submit")), [], "a Submit crossed")
      yield* eventually(
        Effect.map(a.status.tasks, ({ running }) => running === maxWorkers),
        () => `a runs its ${maxWorkers} tasks`
      )
      assert.deepStrictEqual(yield* runnersOf(a, firstIds), firstIds.map(() => a.address))
      // a's workers are all taken: the next ones spread by their ids, b's shards among them. Ids are random and the
      // two runners' shares of the 12 shards need not be even, so 24 ids may all fall on one runner's shards (about
      // 1 in 80 with a share of 2): more batches of 24 until both runners' shards have some, at most 8
      const overflowIds: Array<string> = []
      const onB: Array<string> = []
      for (let batch = 0; batch < 8 && (onB.length === 0 || onB.length === overflowIds.length); batch++) {
        const overflow = yield* traced(
          Effect.forEach(Array.from({ length: 24 }, (_, i) => i), () => a.tasks.submit(Gated, { gate: "overflow" }), {
            concurrency: "unbounded"
          })
        )
        for (const { id } of overflow) {
          overflowIds.push(id)
          if (b.holds(TaskEntity.placement({ id, kind: "gated", key: null }))) onB.push(id)
        }
      }
      assert.isAbove(onB.length, 0, "some of the overflow is placed on b's shards")
      assert.isBelow(onB.length, overflowIds.length, "some of the overflow is placed on a's shards")
      assert.strictEqual(spans.filter((name) => name.endsWith(".Submit")).length, onB.length, "each task on b's shards crossed once")
      yield* Effect.forEach(["first", "overflow"], cluster.open, { discard: true })
      for (const id of [...firstIds, ...overflowIds]) {
        const final = yield* a.tasks.awaitInfo(id)
        assert.deepInclude(final, { status: "completed", runner: onB.includes(id) ? b.address : a.address }, id)
      }
    }).pipe(Effect.scoped), { timeout: 90_000 })

  it.live("a task placed locally is handed over when its runner stops: the other runs it on from its checkpoint, never two attempts at once", () =>
    Effect.gen(function*() {
      const { a, b, cluster } = yield* twoLocal
      const gate = "handed"
      const handles = yield* Effect.forEach(
        Array.from({ length: maxWorkers }, (_, i) => i),
        () => a.tasks.submit(Scan, { gate, from: 1, to: 2 }),
        { concurrency: "unbounded" }
      )
      const ids = handles.map((handle) => handle.id)
      for (const id of ids) assert.isTrue(a.holds(TaskEntity.placement({ id, kind: "scan", key: null })), `${id} on a's shard`)
      yield* cluster.open(`${gate}/1`)
      yield* Effect.forEach(ids, (id) =>
        eventually(
          Effect.map(Effect.orDie(a.tasks.get(id)), (info) => (info.checkpoint as { next?: number } | null)?.next === 2),
          () => `${id} saves its first step: ${JSON.stringify(story(cluster, id))}`
        ), { discard: true })
      // a stops: its guards hand the scans over, b takes every shard and adopts them from their records
      yield* a.stop
      yield* cluster.open(`${gate}/2`)
      for (const id of ids) {
        assert.deepInclude(yield* b.tasks.awaitInfo(id), { status: "completed", result: 3, runner: b.address })
        const lines = story(cluster, id)
        assert.strictEqual(lines[0], "start a 1 from 1", `${id}: ${JSON.stringify(lines)}`)
        assert.match(lines.at(-2) ?? "", /^start b \d+ from 2$/, `${id}: ${JSON.stringify(lines)}`)
        assert.match(lines.at(-1) ?? "", /^end b \d+$/, `${id}: ${JSON.stringify(lines)}`)
      }
      assert.deepStrictEqual(cluster.overlaps, [])
    }).pipe(Effect.scoped), { timeout: 90_000 })

  it.live("a keyed task follows its key to the runner holding the key's shard, and the key refuses a second submission on either runner", () =>
    Effect.gen(function*() {
      const { a, b, cluster } = yield* twoLocal
      const key = yield* keyOn(b, "hold")
      const { spans, traced } = tracing()
      // made on a, with a's workers free: placed by its key all the same, on b
      const held = yield* traced(a.tasks.submit(Hold, { key, gate: key }))
      assert.deepStrictEqual(spans.filter((name) => name.endsWith(".Submit")).length, 1, "the keyed task crossed to b")
      yield* startedAnywhere(cluster, held.id)
      assert.deepStrictEqual(story(cluster, held.id), ["start b 1"])
      for (const runner of [a, b]) {
        const error = yield* Effect.flip(runner.tasks.submit(Hold, { key, gate: key }))
        assert.deepInclude(error, { _tag: "SubmitRejected", reason: "key-busy", key, holder: held.id }, runner.name)
      }
      yield* cluster.open(key)
      assert.deepInclude(yield* a.tasks.awaitInfo(held.id), { status: "completed", result: "b", runner: b.address })
    }).pipe(Effect.scoped), { timeout: 90_000 })
})
