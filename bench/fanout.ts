/**
 * `npm run bench -- fanout`: what a record costs the RPC server to frame for
 * every one of its watchers — the `Watch` stream's chunk line, as the
 * server's serialization writes it, for each of `--watchers` (default 190,
 * issue 17's mix) watchers of every record. Two ways, in alternating rounds
 * of one run: the records' plain schema and `effect/rpc`'s ndjson (each
 * watcher's record encoded and stringified for it), and the group's own
 * stream schema with the server's serialization (`internal/preEncoded`: each
 * record encoded once, its text written into every watcher's line). Prints
 * the processor time per record (all watchers) of each, their ratio, and the
 * load average.
 */
import { loadavg } from "node:os"
import { Schema } from "effect"
import { RpcSchema, RpcSerialization } from "effect/rpc"
import { TaskRpcs } from "@chainjobs/rpc"
import { TaskInfo } from "@chainjobs/tasks"
import * as PreEncoded from "../packages/rpc/src/internal/preEncoded.ts"
import { fmt, table } from "./_measure.ts"

const args = process.argv.slice(2)
const flag = (name: string, fallback: number) => {
  const value = Number(args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3))
  return Number.isFinite(value) && value > 0 ? value : fallback
}
const watchers = flag("watchers", 190)
const records = flag("records", 2000)
const rounds = flag("rounds", 5)

/** A record as a running task's looks, its payload and detail small JSON. */
const record = (i: number): TaskInfo.TaskInfo => ({
  id: `0198a0c0-0000-7000-8000-${String(i).padStart(12, "0")}`,
  kind: "bench",
  status: "running",
  reason: null,
  priority: 0,
  key: null,
  owner: "alice",
  attempt: 1,
  progress: i % 100,
  message: "working",
  detail: { step: i % 7 },
  payload: { millis: 1000, n: i },
  result: null,
  error: null,
  errorMessage: null,
  checkpoint: null,
  createdAt: 1_764_000_000_000 + i,
  startedAt: 1_764_000_000_100 + i,
  finishedAt: null,
  heartbeatAt: 1_764_000_000_200 + i,
  expiresAt: null
})

const watch = TaskRpcs.TaskRpcs.requests.get("Watch")!.successSchema
if (!RpcSchema.isStreamSchema(watch)) throw new Error("Watch is not a stream")
const ways = {
  plain: {
    encode: Schema.encodeUnknownSync(RpcSerialization.ndjson.codecFor(Schema.NonEmptyArray(TaskInfo.TaskInfo))),
    serialization: RpcSerialization.ndjson
  },
  preEncoded: {
    encode: Schema.encodeUnknownSync(RpcSerialization.ndjson.codecFor(Schema.NonEmptyArray(watch.success as Schema.Codec<unknown, unknown>))),
    serialization: PreEncoded.ndjson
  }
}

/** Processor microseconds per record (every watcher's line) of one round on fresh records, and the bytes written. */
const round = (way: typeof ways.plain) => {
  const parsers = Array.from({ length: watchers }, () => way.serialization.makeUnsafe())
  const fresh = Array.from({ length: records }, (_, i) => record(i))
  let bytes = 0
  const before = process.cpuUsage()
  for (const info of fresh) {
    for (let w = 0; w < watchers; w++) {
      const line = parsers[w].encode({ _tag: "Chunk", requestId: String(w), values: way.encode([info]) })
      bytes += (line as string).length
    }
  }
  const used = process.cpuUsage(before)
  return { micros: (used.user + used.system) / records, bytes }
}

const results = { plain: [] as Array<number>, preEncoded: [] as Array<number> }
const bytes = { plain: 0, preEncoded: 0 }
// A first round of each, not counted, warms the JIT.
round(ways.plain)
round(ways.preEncoded)
for (let r = 0; r < rounds; r++) {
  for (const name of ["plain", "preEncoded"] as const) {
    const { bytes: written, micros } = round(ways[name])
    results[name].push(micros)
    bytes[name] = written
  }
}
if (bytes.plain !== bytes.preEncoded) throw new Error(`the two ways wrote different bytes: ${bytes.plain} vs ${bytes.preEncoded}`)
const median = (values: Array<number>) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const plain = median(results.plain)
const preEncoded = median(results.preEncoded)
console.log(
  `Watch chunk lines for ${watchers} watchers of each of ${records} records, median of ${rounds} alternating rounds; load average ${
    loadavg().map((n) => n.toFixed(1)).join(" ")
  }`
)
table([
  ["way", "CPU µs per record (all watchers)", "vs plain"],
  ["plain schema + ndjson (encoded per watcher)", fmt(plain), "1.00"],
  ["pre-encoded (once per record)", fmt(preEncoded), fmt(preEncoded / plain, 2)]
])
