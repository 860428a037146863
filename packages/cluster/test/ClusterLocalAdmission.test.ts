/**
 * Direct admission (`LocalAdmission`): a submission made on the runner holding
 * its shard goes straight into that runner's supervisor, no entity message.
 * Runners of `Runner.layer` in the test process (`InProcessCluster.ts`): a
 * task admitted so is handed over when its shard moves to a runner that
 * joins (stopped at its checkpoint, run on there, never two attempts at
 * once), and exclusive keys still hold whichever runner a submission is made
 * on.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Tracer } from "effect"
import { TaskEntity } from "@chainjobs/cluster"
import {
  eventually,
  guarding,
  Hold,
  idOn,
  makeCluster,
  scansAtSecondStep,
  settled,
  shards,
  story,
  takenOver,
  type TestRunner
} from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/** Enough tasks that the shards a second runner takes over carry some of them (12 shards), each with a worker of its own. */
const count = 24
const maxWorkers = 30

/** A fresh cluster of one runner, `a`, admitting every submission directly. */
const alone = Effect.gen(function*() {
  const cluster = yield* makeCluster
  const a = yield* cluster.start("a", { maxWorkers, directAdmission: true })
  yield* settled([a])
  yield* guarding(a)
  return { a, cluster }
})

describe.skipIf(pgTestUrl === undefined)("direct admission on the shard's holder", () => {
  it.live("a task admitted directly is handed over when its shard moves: the new holder runs it on from its checkpoint, never two attempts at once", () =>
    Effect.gen(function*() {
      const { a, cluster } = yield* alone
      assert.strictEqual(yield* a.status.shardsGuarded, shards)
      const ids = Array.from({ length: count }, (_, i) => `scan-${i}`)
      yield* scansAtSecondStep(cluster, a, ids)
      // b joins and takes some of a's shards: a lets them go, b adopts their tasks
      const b = yield* cluster.start("b", { maxWorkers, directAdmission: true })
      yield* settled([a, b])
      const moved = yield* takenOver(cluster, b, ids)
      yield* Effect.forEach(ids, (id) => cluster.open(`${id}/2`), { discard: true })
      for (const id of ids) {
        const final = yield* b.tasks.awaitInfo(id)
        assert.deepInclude(final, { status: "completed", result: 3, runner: moved.includes(id) ? b.address : a.address })
      }
      for (const id of moved) {
        const lines = story(cluster, id)
        assert.strictEqual(lines.length, 3, `${id}: ${JSON.stringify(lines)}`)
        assert.strictEqual(lines[0], "start a 1 from 1")
        assert.match(lines[1], /^start b \d+ from 2$/, `${id}: ${JSON.stringify(lines)}`)
        assert.match(lines[2], /^end b \d+$/, `${id}: ${JSON.stringify(lines)}`)
      }
      assert.deepStrictEqual(cluster.overlaps, [])
    }).pipe(Effect.scoped), { timeout: 90_000 })

  it.live("a submission made on another runner is admitted under the owner's guard, no Run after it, and handed over when the owner stops", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a", { maxWorkers, directAdmission: true })
      // every call b's entities make through the cluster is a span named for its message (`….client.Run`)
      const spans: Array<string> = []
      const tracer = Tracer.make({
        span(options) {
          spans.push(options.name)
          return Tracer.nativeTracer.span(options)
        }
      })
      const b = yield* Effect.withTracer(cluster.start("b", { maxWorkers, directAdmission: true }), tracer)
      yield* settled([a, b])
      yield* guarding(a)
      yield* guarding(b)
      const ids = yield* Effect.forEach([0, 1, 2, 3], (i) => idOn(b, `routed-${i}`))
      // made on a, owned by b: each crosses to b as `Submit`
      yield* scansAtSecondStep(cluster, a, ids)
      for (const id of ids) assert.deepStrictEqual(story(cluster, id), ["start b 1 from 1"])
      assert.deepStrictEqual(spans.filter((name) => name.endsWith(".Run")), [])
      // b's guards hand them over as it stops: a runs each on from its checkpoint
      yield* b.stop
      yield* Effect.forEach(ids, (id) => cluster.open(`${id}/2`), { discard: true })
      for (const id of ids) {
        assert.deepInclude(yield* a.tasks.awaitInfo(id), { status: "completed", result: 3, runner: a.address })
        const lines = story(cluster, id)
        assert.strictEqual(lines.length, 3, `${id}: ${JSON.stringify(lines)}`)
        assert.match(lines[1], /^start a \d+ from 2$/, `${id}: ${JSON.stringify(lines)}`)
      }
      assert.deepStrictEqual(cluster.overlaps, [])
    }).pipe(Effect.scoped), { timeout: 90_000 })

  it.live("exclusive keys hold across runners: a key admitted directly refuses a second submission made on either runner, before and after its shard moves", () =>
    Effect.gen(function*() {
      const { a, cluster } = yield* alone
      const keys = Array.from({ length: count }, (_, i) => `key-${i}`)
      const held = new Map<string, string>()
      for (const key of keys) held.set(key, (yield* a.tasks.submit(Hold, { key, gate: key })).id)
      const refused = (runner: TestRunner, key: string) =>
        Effect.gen(function*() {
          const error = yield* runner.tasks.submit(Hold, { key, gate: key }).pipe(
            Effect.flatMap((second) => Effect.die(new Error(`${key} on ${runner.name}: admitted a second task, ${second.id}`))),
            Effect.flip
          )
          assert.deepInclude(error, { _tag: "SubmitRejected", reason: "key-busy", key, holder: held.get(key) }, `${key} on ${runner.name}`)
        })
      yield* Effect.forEach(keys, (key) => refused(a, key), { discard: true })
      const b = yield* cluster.start("b", { maxWorkers, directAdmission: true })
      yield* settled([a, b])
      yield* guarding(b)
      const moved = keys.filter((key) => b.holds(TaskEntity.placement({ id: "", kind: "hold", key })))
      assert.isAbove(moved.length, 0, "b holds the shard of some key")
      // a moved key's task stopped on a (its finalizer ran there) and runs on b now
      yield* Effect.forEach(moved, (key) =>
        eventually(
          Effect.sync(() => story(cluster, held.get(key)!).some((line) => line.startsWith("start b"))),
          () => `${key}'s task starts again on b: ${JSON.stringify(story(cluster, held.get(key)!))}`
        ), { discard: true })
      for (const key of moved) {
        assert.deepStrictEqual(story(cluster, held.get(key)!).slice(0, 2), ["start a 1", "finalizer a 1"])
      }
      // on the runner holding the key's shard (directly) and on the other one (through the entity)
      yield* Effect.forEach(keys, (key) => Effect.andThen(refused(a, key), refused(b, key)), { discard: true })
      yield* Effect.forEach(keys, cluster.open, { discard: true })
      for (const key of keys) {
        assert.deepInclude(yield* a.tasks.awaitInfo(held.get(key)!), {
          status: "completed",
          result: moved.includes(key) ? "b" : "a"
        })
      }
    }).pipe(Effect.scoped), { timeout: 90_000 })
})
