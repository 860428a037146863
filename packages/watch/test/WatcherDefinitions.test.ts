import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Schema } from "effect"
import { isAddress } from "viem"
import * as Watchers from "../src/Watchers.ts"
import { address, DevChain, node, Record, runtime, sharedRuntime, tempDirectory } from "./fixtures.ts"

const reasonOf = (exit: Exit.Exit<unknown, { readonly reason: { readonly _tag: string } }>) => {
  const error = Exit.findErrorOption(exit)
  return error._tag === "Some" ? error.value.reason._tag : "none"
}

layer(sharedRuntime(), { excludeTestServices: true, timeout: 120_000 })("Watchers: definitions", (it) => {
  it.effect.prop(
    "a definition with a bad account, contract, event, depth, start block or name is refused with Invalid and writes nothing",
    { text: Schema.String, depth: Schema.Int, pick: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 4 })) },
    ({ text, depth, pick }) =>
      Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        const good = { name: "good", chain: "dev", processor: Record.name, accounts: [address(1)], confirmations: 1 }
        const bad: Watchers.WatcherSpec = [
          { ...good, accounts: [address(1), text] },
          { ...good, contracts: [{ address: text, events: ["Transfer(address indexed from, address indexed to, uint256 value)"] }] },
          { ...good, contracts: [{ address: address(2), events: [`${text}(`] }] },
          { ...good, confirmations: depth < 0 ? depth : -1 - depth },
          { ...good, name: `${text}/` }
        ][pick]!
        if (pick <= 1 && isAddress(text, { strict: false })) return true
        const before = yield* watchers.list
        const exit = yield* Effect.exit(watchers.add(bad))
        assert.strictEqual(reasonOf(exit), "Invalid")
        assert.deepStrictEqual(yield* watchers.list, before)
        return true
      }),
    60_000
  )

  it.effect("processes declaring the same watcher at once on shared tables all start, and it is stored once", () =>
    Effect.gen(function*() {
      const spec = { name: "declared-together", chain: "dev", processor: Record.name, accounts: [address(6)], confirmations: 1, paused: true }
      // three services declaring it at the same moment (as runners of a cluster starting together)
      yield* Effect.all(
        Array.from({ length: 3 }, () => Effect.scoped(Watchers.make({ watchers: [spec] }))),
        { concurrency: "unbounded" }
      )
      const watchers = yield* Watchers.Watchers
      assert.deepStrictEqual((yield* watchers.list).filter((watcher) => watcher.name === spec.name).length, 1)
      yield* watchers.remove(spec.name)
    }))

  it.effect("run-time changes: add, pause, resume, change the accounts, remove; a taken name and an unknown watcher are refused", () =>
    Effect.gen(function*() {
      const watchers = yield* Watchers.Watchers
      const added = yield* watchers.add({ name: "lifecycle", chain: "dev", processor: Record.name, accounts: [address(3)], confirmations: 1 })
      assert.strictEqual(added.status, "active")
      assert.strictEqual(reasonOf(yield* Effect.exit(watchers.add({ ...added, accounts: [address(4)] }))), "Invalid")
      yield* watchers.pause("lifecycle")
      assert.strictEqual((yield* watchers.get("lifecycle")).status, "paused")
      yield* watchers.resume("lifecycle")
      assert.strictEqual((yield* watchers.get("lifecycle")).status, "active")
      const from = yield* watchers.setAccounts("lifecycle", [address(4), address(5)])
      const sets = (yield* watchers.get("lifecycle")).accountSets
      assert.deepStrictEqual(sets[sets.length - 1], { fromBlock: from, accounts: [address(4), address(5)] })
      yield* watchers.remove("lifecycle")
      assert.strictEqual(reasonOf(yield* Effect.exit(watchers.get("lifecycle"))), "UnknownWatcher")
      assert.strictEqual(reasonOf(yield* Effect.exit(watchers.pause("lifecycle"))), "UnknownWatcher")
      assert.strictEqual(reasonOf(yield* Effect.exit(watchers.remove("lifecycle"))), "UnknownWatcher")
      assert.deepStrictEqual((yield* watchers.list).map((watcher) => watcher.name), [])
    }), 60_000)

  it.effect("watchers added, paused and changed at run time are there again after a restart, with their cursors", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const directory = yield* tempDirectory
      const act = node(chain.url)
      const before = yield* Effect.gen(function*() {
        const watchers = yield* Watchers.Watchers
        yield* watchers.add({ name: "kept", chain: "dev", processor: Record.name, accounts: [address(6)], confirmations: 0 })
        yield* watchers.add({ name: "resting", chain: "dev", processor: Record.name, accounts: [address(7)], paused: true })
        yield* act.sendRaw(yield* act.sign(8, address(6), 1n))
        yield* watchers.poll("kept")
        yield* watchers.setAccounts("kept", [address(6), address(7)])
        return yield* watchers.list
      }).pipe(Effect.provide(runtime(directory, chain.url), { local: true }))
      const after = yield* Watchers.Watchers.use((watchers) => watchers.list).pipe(
        Effect.provide(runtime(directory, chain.url), { local: true })
      )
      assert.deepStrictEqual(after, before)
      assert.deepStrictEqual(after.map((watcher) => [watcher.name, watcher.status, watcher.accountSets.length]), [
        ["kept", "active", 2],
        ["resting", "paused", 1]
      ])
    }).pipe(Effect.scoped), 60_000)
})
