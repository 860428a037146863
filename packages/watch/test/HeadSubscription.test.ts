import { layer } from "@effect/vitest"
import { type Duration, Effect } from "effect"
import * as Watchers from "../src/Watchers.ts"
import { address, DevChain, eventually, node, processedCounts, Record, runtime, tempDirectory } from "./fixtures.ts"

/** A watch runtime polling every `pollInterval`, with the given WebSocket for the chain `dev`, for one test. */
const watching = <A, E, R>(pollInterval: Duration.Input, webSocket: string, body: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const chain = yield* DevChain.DevChain
    const directory = yield* tempDirectory
    return yield* body.pipe(Effect.provide(
      runtime(directory, chain.url, { watchers: { pollInterval }, webSockets: { dev: webSocket } }),
      { local: true }
    ))
  }).pipe(Effect.scoped)

/** Sends a transfer to a watched account and waits until the watcher has processed it. */
const transferSeen = (name: string, from: number, to: number) =>
  Effect.gen(function*() {
    const chain = yield* DevChain.DevChain
    const act = node(chain.url)
    const watchers = yield* Watchers.Watchers
    yield* watchers.add({ name, chain: "dev", processor: Record.name, accounts: [address(to)], confirmations: 1 })
    // the watcher's first tick has read the head (its start block is after it)
    yield* eventually(Effect.map(watchers.lag(name), (lag) => lag.head !== null), `watcher ${name}'s first tick`)
    const hash = yield* act.sendRaw(yield* act.sign(from, address(to), 1n))
    yield* act.mine(1)
    yield* eventually(Effect.map(processedCounts(name), (counts) => counts.has(`dev:${hash}`)), `watcher ${name} processed ${hash}`)
  })

layer(DevChain.layer(), { excludeTestServices: true, timeout: 120_000 })("Head subscriptions", (it) => {
  it.effect("a head pushed over the WebSocket starts the watcher's next tick: it follows the chain with polling an hour apart", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      yield* watching("1 hour", chain.wsUrl, transferSeen("pushed", 11, 12))
    }), 60_000)

  it.effect("without a working WebSocket the watcher falls back to polling", () =>
    watching("50 millis", "ws://127.0.0.1:9/", transferSeen("polled", 13, 14)), 60_000)
})
