/**
 * Payloads that encode to another form than they decode to, routed through the
 * cluster (`ClusterTasks.submit`, `submitEncoded`): a typed submission is
 * encoded before it travels to the shard owner, an encoded one (a remote
 * caller's) travels as it is, and both are placed by the key of the decoded
 * payload, so that one key's tasks meet on one runner however they came.
 * Two runners of `Runner.layer` in the test process (`InProcessCluster.ts`).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TaskEntity } from "@chainjobs/cluster"
import { firstHeld, makeCluster, Numbered, settled } from "./InProcessCluster.ts"
import { pgTestUrl } from "./RunnerProcess.ts"

describe.skipIf(pgTestUrl === undefined)("ClusterTasks payloads", () => {
  it.live("a typed payload travels encoded, an encoded one as it is; both are placed by the decoded payload's key", () =>
    Effect.gen(function*() {
      const cluster = yield* makeCluster
      const a = yield* cluster.start("a")
      const b = yield* cluster.start("b")
      yield* settled([a, b])
      // a key of a's, and a spelling of it (leading zeros) whose own placement would be on b
      const placed = (key: string) => TaskEntity.placement({ id: "", kind: "numbered", key })
      const n = Number(yield* firstHeld(a, (i) => String(i + 1), placed))
      const spelled = yield* firstHeld(b, (i) => `${"0".repeat(i)}${n}`, placed)
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
})
