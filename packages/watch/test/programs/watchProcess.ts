/**
 * A watching process for the crash test: the watch runtime on the SQLite files
 * of a directory, with one watcher declared by configuration.
 *
 * Usage: watchProcess.ts <directory> <node url> <spec JSON> [<block>]
 * Prints "started" once running; with <block>, exits 0 once every item up to
 * that block is processed, otherwise runs until killed.
 */
import { Effect, Schema } from "effect"
import * as Watchers from "../../src/Watchers.ts"
import { eventually, runtime } from "../fixtures.ts"

const [directory, url, specJson, until] = process.argv.slice(2)
const spec = Schema.decodeUnknownSync(Watchers.WatcherSpec)(JSON.parse(specJson!))

const program = Effect.gen(function*() {
  const watchers = yield* Watchers.Watchers
  console.log("started")
  if (until === undefined) return yield* Effect.never
  const block = Number(until)
  // bounded by the crash test's own limit, not the default
  yield* eventually(
    Effect.map(watchers.lag(spec.name), (lag) => lag.confirmed >= block && lag.processed >= block),
    `every item up to block ${block} processed`,
    480_000
  )
  console.log("done")
})

await Effect.runPromise(program.pipe(
  Effect.provide(runtime(directory!, url!, { watchers: { watchers: [spec], pollInterval: "20 millis", maxRange: 7 }, jitterMillis: 25 }))
))
process.exit(0)
