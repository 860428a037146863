/**
 * What the access rules and the RPC door cost, each next to a baseline
 * measured in the same run:
 * - the facade: no-op tasks submitted through `TaskAccess.submit` (ownership,
 *   token-bucket quota, payload size and depth) next to the same submissions
 *   through `Tasks.submitEncoded` (memory store);
 * - the RPC door: an ndjson body of `Submit` lines checked line by line
 *   (envelope, RPC, payload depth, unique ids) next to `JSON.parse` of the
 *   same lines, the least a server must do with them;
 * - the quota: a client pacing itself at exactly the limit (`QUOTA` per
 *   second, for `QUOTA_SECONDS`) submits over REST to the service on
 *   127.0.0.1; the 429s it gets from the service, next to the refusals a
 *   fixed window (`RateLimiter`'s, the quota's former rule) and the token
 *   bucket give the client's own send times, replayed on a test clock (the
 *   service sees the requests later, bunched whenever its event loop stalls,
 *   and a stall longer than a window's worth of tokens is refused by any
 *   limiter).
 */
import { Duration, Effect, Layer, Logger, Schema } from "effect"
import { HttpServer } from "effect/http"
import { RateLimiter } from "effect/persistence"
import { TestClock } from "effect/testing"
import { Principal, Quota, Task, TaskAccess, TaskStore, Tasks } from "@chainjobs/tasks"
import { TaskRpcs } from "@chainjobs/rpc"
import * as Frames from "../packages/rpc/src/internal/frames.ts"
import * as Server from "../packages/server/src/Server.ts"
import * as ServerConfig from "../packages/server/src/ServerConfig.ts"
import { fmt, medianRate, perSecond, table } from "./_measure.ts"

const SUBMITS = 20_000
const LINES = 200_000
const RUNS = 5
const QUOTA = 200
const QUOTA_SECONDS = 10

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

/** Submits at exactly `QUOTA` per second over REST; returns the 429s and the arrival times (ms from the first). */
const pacedOverHttp = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  const base = HttpServer.formatAddress(server.address)
  return yield* Effect.promise(async () => {
    const period = 1000 / QUOTA
    const start = performance.now()
    const arrivals: Array<number> = []
    const replies: Array<Promise<number>> = []
    for (let i = 0; i < QUOTA * QUOTA_SECONDS; i++) {
      const due = start + i * period
      const wait = due - performance.now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      arrivals.push(performance.now() - start)
      replies.push(
        fetch(`${base}/api/tasks/demo-scan`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ fromBlock: 1, toBlock: 1, delayMillis: 0 })
        }).then(async (response) => {
          await response.arrayBuffer()
          return response.status
        })
      )
    }
    const statuses = await Promise.all(replies)
    return { refused: statuses.filter((status) => status === 429).length, sent: statuses.length, arrivals }
  })
}).pipe(
  Effect.provide(Server.layer.pipe(Layer.provide(ServerConfig.layerTest({
    port: 0,
    dataDir: ":memory:",
    devChain: false,
    submitLimit: QUOTA
  })))),
  // The task log's lines are not what this measures.
  Effect.provide(Logger.layer([]))
)

/** The refusals a fixed window of `QUOTA` per second gives the same arrivals. */
const fixedWindow = (arrivals: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const limiter = yield* RateLimiter.RateLimiter
    let refused = 0
    for (const at of arrivals) {
      yield* TestClock.setTime(Math.floor(at))
      const exit = yield* Effect.exit(
        limiter.consume({ key: "client", limit: QUOTA, window: Duration.seconds(1), algorithm: "fixed-window", onExceeded: "fail" })
      )
      if (exit._tag === "Failure") refused++
    }
    return refused
  }).pipe(
    Effect.provide(RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory))),
    Effect.provide(TestClock.layer())
  )

/** The refusals a token bucket of one window's burst gives the same arrivals, replayed on a test clock. */
const tokenBucket = (arrivals: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const quota = Quota.make({ limit: QUOTA, window: Duration.seconds(1), burst: QUOTA })
    let refused = 0
    for (const at of arrivals) {
      yield* TestClock.setTime(Math.floor(at))
      if ((yield* quota.take("client"))._tag === "Refused") refused++
    }
    return refused
  }).pipe(Effect.provide(TestClock.layer()))

const main = async () => {
  const submitted = await Effect.runPromise(submissions)
  const lined = await door()
  const paced = await Effect.runPromise(Effect.scoped(pacedOverHttp))
  const windowRefused = await Effect.runPromise(fixedWindow(paced.arrivals))
  const bucketRefused = await Effect.runPromise(tokenBucket(paced.arrivals))
  table([
    ["measure", "baseline /s", "guarded /s", "guarded / baseline"],
    ["submit: Tasks.submitEncoded vs TaskAccess.submit", fmt(submitted.direct), fmt(submitted.guarded), fmt(submitted.guarded / submitted.direct, 2)],
    ["RPC lines: JSON.parse vs the door's check", fmt(lined.parsed), fmt(lined.checked), fmt(lined.checked / lined.parsed, 2)]
  ])
  console.log("")
  table([
    [`a client paced at ${QUOTA}/s for ${QUOTA_SECONDS} s`, "sent", "refused", "refused %"],
    ["fixed window (same arrivals, replayed)", fmt(paced.sent), fmt(windowRefused), fmt((100 * windowRefused) / paced.sent, 2)],
    ["token bucket, burst 1 s (same arrivals, replayed)", fmt(paced.sent), fmt(bucketRefused), fmt((100 * bucketRefused) / paced.sent, 2)],
    ["token bucket, burst 2 s (the service, over REST)", fmt(paced.sent), fmt(paced.refused), fmt((100 * paced.refused) / paced.sent, 2)]
  ])
}

main()
