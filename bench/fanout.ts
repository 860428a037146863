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
 *
 * Then what sending those lines costs the server, over real WebSockets to a
 * reader in another process (`_fanout-client.ts`): the watchers spread over
 * `--connections` (default 10) connections, `--bursts` (default 300) bursts
 * in which every watcher gets one line, each written from a callback of its
 * own as the server's `Watch` fibers write them. Two ways, in alternating
 * rounds: the server's writer (`internal/coalescedWriter`: a connection's
 * lines of one turn as one message) and the earlier rule (a message per
 * writing callback's microtasks). Prints the processor time per burst (all
 * watchers) of each, the messages per burst, and their ratio.
 */
import { fork } from "node:child_process"
import { loadavg } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { NodeSocketServer } from "@effect/platform-node"
import { Effect, Schema } from "effect"
import { RpcSchema, RpcSerialization } from "effect/rpc"
import type { Socket } from "effect/socket"
import { TaskRpcs } from "@chainjobs/rpc"
import { TaskInfo } from "@chainjobs/tasks"
import * as CoalescedWriter from "../packages/rpc/src/internal/coalescedWriter.ts"
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
const connections = flag("connections", 10)
const bursts = flag("bursts", 300)

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

// ---------------------------------------------------------------------------
// sending: a message per turn per connection, or per writing callback
// ---------------------------------------------------------------------------

/** Distinct bursts of lines (every watcher's line of a record), cycled through. */
const burstLines = Array.from({ length: 10 }, (_, b) => {
  const serialization = ways.preEncoded.serialization.makeUnsafe()
  return Array.from({ length: watchers }, (_, w) =>
    serialization.encode({
      _tag: "Chunk",
      requestId: String(w),
      values: ways.preEncoded.encode([record(b * watchers + w)])
    }) as string)
})
const linesPerBurst = watchers

const sending = Effect.gen(function*() {
  const server = yield* NodeSocketServer.makeWebSocket({ port: 0, host: "127.0.0.1" })
  if (server.address._tag === "UnixPathAddress") throw new Error("the bench's server listens on a path")
  const port = server.address.port
  const writers: Array<Record<CoalescedWriter.FlushAt, Socket.Writer>> = []
  let connected: () => void = () => {}
  const allConnected = new Promise<void>((resolve) => connected = resolve)
  yield* Effect.forkScoped(server.run((socket) =>
    Effect.scoped(Effect.gen(function*() {
      const reader = yield* socket.reader
      const writer = yield* socket.writer
      writers.push({ turn: CoalescedWriter.make("turn")(writer), microtask: CoalescedWriter.make("microtask")(writer) })
      if (writers.length === connections) connected()
      // Read (nothing comes) until the connection closes.
      yield* Effect.ignore(Effect.forever(reader.pull))
    }))
  ))
  const here = dirname(fileURLToPath(import.meta.url))
  const client = fork(join(here, "_fanout-client.ts"), [`ws://127.0.0.1:${port}`, String(connections)])
  yield* Effect.addFinalizer(() => Effect.sync(() => client.disconnect()))
  yield* Effect.promise(() => new Promise((ready) => client.once("message", ready)))
  yield* Effect.promise(() => allConnected)

  let expected = 0
  let messagesSoFar = 0
  /** Processor microseconds per burst (every watcher's line), and messages per burst, of one round. */
  const round = (flushAt: CoalescedWriter.FlushAt) =>
    new Promise<{ readonly micros: number; readonly messages: number }>((resolve) => {
      const before = process.cpuUsage()
      expected += bursts * linesPerBurst
      const publish = (burst: number) => {
        const lines = burstLines[burst % burstLines.length]
        // Every watcher's fiber is resumed in a callback of its own and writes its line there.
        for (let w = 0; w < watchers; w++) {
          const writer = writers[w % connections][flushAt]
          setImmediate(() => Effect.runFork(writer.write(lines[w])))
        }
        if (burst + 1 < bursts) setImmediate(() => publish(burst + 1))
      }
      client.once("message", (received: { readonly lines: number; readonly messages: number }) => {
        const used = process.cpuUsage(before)
        const messages = received.messages - messagesSoFar
        messagesSoFar = received.messages
        resolve({ micros: (used.user + used.system) / bursts, messages: messages / bursts })
      })
      client.send({ lines: expected })
      publish(0)
    })

  const results = { turn: [] as Array<number>, microtask: [] as Array<number> }
  const messages = { turn: 0, microtask: 0 }
  yield* Effect.promise(() => round("turn"))
  yield* Effect.promise(() => round("microtask"))
  for (let r = 0; r < rounds; r++) {
    for (const flushAt of ["microtask", "turn"] as const) {
      const result = yield* Effect.promise(() => round(flushAt))
      results[flushAt].push(result.micros)
      messages[flushAt] = result.messages
    }
  }
  const perCallback = median(results.microtask)
  const perTurn = median(results.turn)
  console.log(
    `\nsending those lines over ${connections} WebSocket connections (${watchers} watchers), ${bursts} bursts of a line per watcher, ` +
      `median of ${rounds} alternating rounds; load average ${loadavg().map((n) => n.toFixed(1)).join(" ")}`
  )
  table([
    ["way", "CPU µs per burst (all watchers)", "messages per burst", "vs per callback"],
    ["a message per writing callback (microtask)", fmt(perCallback), fmt(messages.microtask, 1), "1.00"],
    ["a message per connection per turn (coalescedWriter)", fmt(perTurn), fmt(messages.turn, 1), fmt(perTurn / perCallback, 2)]
  ])
})

await Effect.runPromise(Effect.scoped(sending))
