/**
 * Payloads that encode to another form than they decode to, routed through the
 * cluster (`ClusterTasks.submit`, `submitEncoded`): a typed submission is
 * encoded before it travels to the shard owner, an encoded one (a remote
 * caller's) travels as it is, and both are placed by the key of the decoded
 * payload, so that one key's tasks meet on one runner however they came
 * (`submitAll` and `run` as `submit`).
 * Two runners of `Runner.layer` in the test process (`InProcessCluster.ts`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { MessageStorage, RunnerHealth, Runners, RunnerStorage, Sharding, ShardingConfig } from "effect/cluster"
import { TaskEntity } from "@chainjobs/cluster"
import { firstHeld, idOn, makeCluster, Numbered, settled, shards } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

/** The entity id of a `numbered` task keyed as spelled. */
const placed = (key: string) => TaskEntity.placement({ id: "", kind: "numbered", key })

/**
 * The `i`th spelling of the number `n` that `Numbered`'s payload decodes to `n`: leading zeros, a trailing `.0…`, and
 * every other one signed (`+`). The cluster's hash of an entity id (djb2 with xor) keeps its parity whatever even
 * characters (`0`, `.`) are added, and leading zeros alone keep its residue mod 4 too: zeros alone reach only 3 or 6
 * of 12 shards, the class of `n`'s own shard, which another runner may not hold at all. The odd `+` flips the
 * parity, and so the spellings reach every shard within the first 150 or so.
 */
const spelling = (n: number) => (i: number) =>
  `${i % 2 === 0 ? "" : "+"}${"0".repeat((i >> 1) % 50)}${n}${i < 100 ? "" : `.${"0".repeat(Math.floor(i / 100))}`}`

describe("ClusterTasks payloads: spellings", () => {
  it.live("the first 1,000 spellings of n decode to n and reach every shard of the cluster (for n up to 300)", () =>
    Effect.gen(function*() {
      const sharding = yield* Sharding.Sharding
      const missing: Array<string> = []
      for (let n = 1; n <= 300; n++) {
        const reached = new Set<number>()
        for (let i = 0; i < 1_000; i++) {
          const spelled = spelling(n)(i)
          if (Number(spelled) !== n) missing.push(`${spelled} is not ${n}`)
          // once every shard is reached no spelling adds one: hashing stops there (by the 132nd spelling for n up to 300)
          if (reached.size < shards) reached.add(TaskEntity.shardOf(sharding, placed(spelled)).id)
        }
        if (reached.size < shards) missing.push(`${n}: shards ${[...reached].sort((x, y) => x - y).join(",")} only`)
      }
      assert.deepStrictEqual(missing.slice(0, 5), [])
    }).pipe(
      // a cluster of no runner, in memory: only its placement (the entity id's hash over `shards` shards) is used
      Effect.provide(Sharding.layer.pipe(
        Layer.provide(Runners.layerNoop),
        Layer.provide([MessageStorage.layerNoop, RunnerStorage.layerMemory, RunnerHealth.layerNoop]),
        Layer.provide(ShardingConfig.layer({ shardsPerGroup: shards }))
      ))
      // CPU alone, in bounded loops (300,000 spellings decoded, ~33,000 hashed): about 0.5 s on one core, and it cannot
      // hang; on a loaded 2-core machine (CI: load 20-32) it gets a fraction of a core and took 11.8 s of vitest's 5 s
    ), 30_000)
})

/** A test cluster of two runners, `a` and `b`, settled, and a number `n` whose key `a` owns. */
const twoRunners = Effect.gen(function*() {
  const cluster = yield* makeCluster
  const a = yield* cluster.start("a")
  const b = yield* cluster.start("b")
  yield* settled([a, b])
  const n = Number(yield* firstHeld(a, (i) => String(i + 1), placed))
  return { cluster, a, b, n }
})

describe.skipIf(pgTestUrl === undefined)("ClusterTasks payloads", () => {
  it.live("a typed payload travels encoded, an encoded one as it is; both are placed by the decoded payload's key", () =>
    Effect.gen(function*() {
      // a key of a's, and a spelling of it (leading zeros, a sign, a fraction) whose own placement is on b
      const { a, b, cluster, n } = yield* twoRunners
      const spelled = yield* firstHeld(b, spelling(n), placed)
      const typed = yield* b.tasks.submit(Numbered, { n, gate: "typed" })
      const stored = yield* a.tasks.get(typed.id)
      assert.deepStrictEqual([stored.payload, stored.key], [{ n: String(n), gate: "typed" }, String(n)])
      // the same key, spelled otherwise and submitted encoded: it meets the first task on a
      const refused = yield* b.tasks.submitEncoded("numbered", { n: spelled, gate: "other" }).pipe(Effect.flip)
      assert.deepInclude(refused, { _tag: "SubmitRejected", reason: "key-busy", key: String(n) })
      yield* cluster.open("typed")
      assert.deepInclude(yield* b.tasks.awaitInfo(typed.id), { status: "completed", result: n, runner: a.address })
      const encoded = yield* b.tasks.submitEncoded("numbered", { n: spelled, gate: "typed" })
      assert.deepInclude(yield* a.tasks.awaitInfo(encoded.id), { status: "completed", result: n, runner: a.address })
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("a typed payload with the caller's id is placed by its key, not by the id", () =>
    Effect.gen(function*() {
      // a key of a's and an id whose unkeyed placement is on b: a typed payload is not decoded again (its `n` is a
      // number, which the payload's encoded form, a string, would refuse), so its key decides, not its id
      const { a, b, cluster, n } = yield* twoRunners
      const id = yield* idOn(b, "typed")
      yield* b.tasks.submit(Numbered, { n, gate: "typed-id" }, { id })
      yield* cluster.open("typed-id")
      assert.deepInclude(yield* b.tasks.awaitInfo(id), { status: "completed", result: n, key: String(n), runner: a.address })
    }).pipe(Effect.scoped), { timeout: 60_000 })

  it.live("submitAll and run encode a typed payload as submit does", () =>
    Effect.gen(function*() {
      const { a, b, cluster, n } = yield* twoRunners
      yield* cluster.open("many")
      const [first] = yield* b.tasks.submitAll(Numbered, [{ n, gate: "many" }])
      assert.deepInclude(yield* b.tasks.awaitInfo(first!.id), { status: "completed", result: n, key: String(n), runner: a.address })
      assert.strictEqual(yield* b.tasks.run(Numbered, { n, gate: "many" }), n)
    }).pipe(Effect.scoped), { timeout: 60_000 })
})
