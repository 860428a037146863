/**
 * What the access rules and the RPC door cost, each next to a baseline
 * measured in the same run:
 * - the facade: no-op tasks submitted through `TaskAccess.submit` (ownership,
 *   token-bucket quota, payload size and depth) next to the same submissions
 *   through `Tasks.submitEncoded` (memory store);
 * - the RPC door: an ndjson body of `Submit` lines checked line by line
 *   (envelope, RPC, payload depth, unique ids) next to `JSON.parse` of the
 *   same lines, the least a server must do with them.
 */
import { Effect, Layer, Schema } from "effect"
import { Principal, Task, TaskAccess, TaskStore, Tasks } from "@chainjobs/tasks"
import { TaskRpcs } from "@chainjobs/rpc"
import * as Frames from "../packages/rpc/src/internal/frames.ts"
import { fmt, medianRate, perSecond, table } from "./_measure.ts"

const SUBMITS = 20_000
const LINES = 200_000
const RUNS = 5

const Noop = Task.define("noop", { payload: Schema.Struct({ n: Schema.Number, tags: Schema.Array(Schema.String) }), success: Schema.Void })
const payload = (n: number) => ({ n, tags: ["a", "b", "c"] })

const runtime = TaskAccess.layer({ submitLimit: 1_000_000_000 }).pipe(
  Layer.provideMerge(Task.implement(Noop, () => Effect.void)),
  Layer.provideMerge(Tasks.layer({ maxWorkers: 1000, shutdownGracePeriod: 0 })),
  Layer.provideMerge(TaskStore.layerMemory)
)

const timed = (count: number, effect: Effect.Effect<unknown, unknown>) =>
  Effect.gen(function*() {
    const start = performance.now()
    yield* effect
    return perSecond(count, performance.now() - start)
  })

const submissions = Effect.gen(function*() {
  const tasks = yield* Tasks.Tasks
  const access = yield* TaskAccess.TaskAccess
  const direct = timed(SUBMITS, Effect.forEach(Array.from({ length: SUBMITS }, (_, n) => n), (n) => tasks.submitEncoded("noop", payload(n), { owner: "bench" }), { discard: true }))
  const guarded = timed(
    SUBMITS,
    Effect.forEach(Array.from({ length: SUBMITS }, (_, n) => n), (n) => access.submit({ kind: "noop", payload: payload(n) }), { discard: true }).pipe(
      Effect.provideService(Principal.CurrentPrincipal, { id: "bench", admin: false })
    )
  )
  // Alternated, so that both see the same store sizes and the same warm-up.
  const rates = { direct: [] as Array<number>, guarded: [] as Array<number> }
  for (let i = 0; i < RUNS; i++) {
    rates.direct.push(yield* direct)
    rates.guarded.push(yield* guarded)
  }
  const median = (values: Array<number>) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)]
  return { direct: median(rates.direct), guarded: median(rates.guarded) }
}).pipe(Effect.provide(runtime))

const lines = Array.from({ length: LINES }, (_, n) =>
  JSON.stringify({
    _tag: "Request",
    id: String(n),
    tag: "Submit",
    payload: { kind: "noop", payload: payload(n) },
    headers: [["authorization", "Bearer bench-token"]]
  }))

const door = async () => {
  const check = Frames.make(TaskRpcs.TaskRpcs.requests as ReadonlyMap<string, any>, 32)
  const bodies: Array<string> = []
  for (let i = 0; i < LINES; i += 100) bodies.push(`${lines.slice(i, i + 100).join("\n")}\n`)
  const parsed = await medianRate(RUNS, async () => {
    const start = performance.now()
    for (const line of lines) JSON.parse(line)
    return perSecond(LINES, performance.now() - start)
  })
  const checked = await medianRate(RUNS, async () => {
    const start = performance.now()
    for (const body of bodies) {
      if (Frames.checkBody(check, body) !== undefined) throw new Error("a bench line was refused")
    }
    return perSecond(LINES, performance.now() - start)
  })
  return { parsed, checked }
}

const main = async () => {
  const submitted = await Effect.runPromise(submissions)
  const lined = await door()
  table([
    ["measure", "baseline /s", "guarded /s", "guarded / baseline"],
    ["submit: Tasks.submitEncoded vs TaskAccess.submit", fmt(submitted.direct), fmt(submitted.guarded), fmt(submitted.guarded / submitted.direct, 2)],
    ["RPC lines: JSON.parse vs the door's check", fmt(lined.parsed), fmt(lined.checked), fmt(lined.checked / lined.parsed, 2)]
  ])
}

main()
