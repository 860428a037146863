import { Effect } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqlTaskStore from "../packages/store-sql/src/SqlTaskStore.ts"
import { TaskStore } from "@chainjobs/tasks"
const dir = mkdtempSync(join(tmpdir(), "probe-"))
let seq = 0
const rec = () => ({ id: `0190-${String(++seq).padStart(12, "0")}`, kind: "bench", status: "pending" as const, reason: null, priority: 0, key: null, owner: null, attempt: 1, progress: 0, message: null, payload: { n: seq }, result: null, error: null, errorMessage: null, checkpoint: null, createdAt: Date.now(), startedAt: null, finishedAt: null, heartbeatAt: null, expiresAt: null })
const [conc, max] = process.argv.slice(2).map(Number)
const N = 20000
const prog = Effect.gen(function*() {
  const store = yield* TaskStore.TaskStore
  const t0 = performance.now()
  yield* Effect.forEach(Array.from({ length: N }, rec), (info) => Effect.gen(function*() {
    yield* store.insert(info)
    yield* store.update({ ...info, status: "running" })
    yield* store.update({ ...info, status: "completed", finishedAt: 1, result: 1 })
  }), { concurrency: conc, discard: true })
  console.log(conc, max, Math.round(N / (performance.now() - t0) * 1000), "tasks/s")
})
await Effect.runPromise(Effect.provide(prog, SqlTaskStore.layerSqlite({ filename: join(dir, `t${conc}-${max}.db`), maxBatchSize: max })))
