/**
 * Built-in demo task kinds, so that a fresh `npm start` has something to run
 * and the dashboard something to show before any chain is configured. They
 * pace themselves with `Effect.sleep` and report progress like real work.
 *
 * Seam: once `@chainjobs/chain` exposes its task kinds and dev chain, the
 * service registers those too; these stay as the chain-free examples.
 *
 * @since 0.1.0
 */
import { Effect, Layer, Schema } from "effect"
import { Task, TaskContext } from "@chainjobs/tasks"

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

/** Pretends to scan a block range for transfers, one block per `delayMillis`. */
export const DemoScan = Task.define("demo-scan", {
  payload: Schema.Struct({
    fromBlock: NonNegativeInt,
    toBlock: NonNegativeInt,
    /** Time spent on each block, in milliseconds. */
    delayMillis: NonNegativeInt.check(Schema.isLessThanOrEqualTo(60_000))
  }).annotate({ examples: [{ fromBlock: 1, toBlock: 100, delayMillis: 100 }] }).check(
    Schema.makeFilter((p) => p.toBlock >= p.fromBlock || "toBlock must not be below fromBlock")
  ),
  success: Schema.Struct({ blocks: Schema.Number, transfers: Schema.Number }),
  policy: { heartbeatTimeout: "2 minutes" }
})

/** The demo kinds' typed error. */
export class DemoError extends Schema.TaggedError<DemoError>()("DemoError", { message: Schema.String }) {}

/** Works for `steps` steps, then fails with `DemoError`: shows how a typed failure looks. */
export const DemoFail = Task.define("demo-fail", {
  payload: Schema.Struct({ steps: NonNegativeInt.check(Schema.isLessThanOrEqualTo(1000)), delayMillis: NonNegativeInt })
    .annotate({ examples: [{ steps: 10, delayMillis: 200 }] }),
  success: Schema.Void,
  error: DemoError
})

const scan = Effect.fnUntraced(function*({ fromBlock, toBlock, delayMillis }: typeof DemoScan.payload.Type) {
  const context = yield* TaskContext.TaskContext
  const total = toBlock - fromBlock + 1
  let transfers = 0
  for (let block = fromBlock; block <= toBlock; block++) {
    yield* Effect.sleep(delayMillis)
    transfers += block % 3
    const done = block - fromBlock + 1
    yield* context.progress((done / total) * 100, `block ${block} of ${toBlock}: ${transfers} transfers`)
  }
  return { blocks: total, transfers }
})

const fail = Effect.fnUntraced(function*({ steps, delayMillis }: typeof DemoFail.payload.Type) {
  const context = yield* TaskContext.TaskContext
  for (let step = 1; step <= steps; step++) {
    yield* Effect.sleep(delayMillis)
    yield* context.progress((step / (steps + 1)) * 100, `step ${step} of ${steps}`)
  }
  return yield* new DemoError({ message: `gave up after ${steps} steps, as asked` })
})

/** Registers the demo kinds with the supervisor. */
export const layer = Layer.mergeAll(Task.implement(DemoScan, scan), Task.implement(DemoFail, fail))
