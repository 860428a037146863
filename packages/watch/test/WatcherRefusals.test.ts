/**
 * What `add` and `setAccounts` refuse, each with the detail a user reads
 * (`Invalid` or `UnknownWatcher`) and nothing written; the defaults `add`
 * fills in (start block, depth, state), its spelling of accounts and
 * contracts; and a watcher whose processor kind is not registered here: its
 * items stay recorded, unsubmitted, and the tick's failure names the kind.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Exit } from "effect"
import type { WatchError } from "../src/WatchError.ts"
import * as Watchers from "../src/Watchers.ts"
import { address, DevChain, node, reasonOf, Record, sharedRuntime } from "./fixtures.ts"

const transfer = "Transfer(address indexed from, address indexed to, uint256 value)"

/** The reason and message of a refusal, with the watchers listed after it (nothing may have been written). */
const refusal = <A>(attempt: Effect.Effect<A, WatchError>) =>
  Effect.gen(function*() {
    const watchers = yield* Watchers.Watchers
    const before = yield* watchers.list
    const [reason, message] = reasonOf(yield* Effect.exit(attempt))
    assert.deepStrictEqual(yield* watchers.list, before, `${message}: something was written`)
    return `${reason}: ${message}`
  })

layer(sharedRuntime(), { excludeTestServices: true, timeout: 120_000 })("Watchers: what is refused, and the defaults", (it) => {
  it.effect("each bad definition is refused with Invalid and its detail, and nothing is written", () =>
    Effect.gen(function*() {
      const watchers = yield* Watchers.Watchers
      const good = { name: "good", chain: "dev", processor: Record.name, accounts: [address(1)], confirmations: 1 }
      const refused = (spec: Watchers.WatcherSpec) => refusal(watchers.add(spec))
      const name = "a name is 1 to 100 letters, digits, '.', '_' or '-', and not '.' or '..'"
      assert.strictEqual(yield* refused({ ...good, name: "." }), `Invalid: watcher ".": ${name}`)
      assert.strictEqual(yield* refused({ ...good, name: ".." }), `Invalid: watcher "..": ${name}`)
      assert.strictEqual(yield* refused({ ...good, name: "" }), `Invalid: watcher "": ${name}`)
      assert.strictEqual(yield* refused({ ...good, name: "x".repeat(101) }), `Invalid: watcher "${"x".repeat(101)}": ${name}`)
      assert.strictEqual(yield* refused({ ...good, name: "a b" }), `Invalid: watcher "a b": ${name}`)
      assert.strictEqual(yield* refused({ ...good, confirmations: -1 }), `Invalid: watcher "good": confirmations must be a whole number ≥ 0, not -1`)
      assert.strictEqual(yield* refused({ ...good, confirmations: 1.5 }), `Invalid: watcher "good": confirmations must be a whole number ≥ 0, not 1.5`)
      assert.strictEqual(yield* refused({ ...good, processor: "" }), `Invalid: watcher "good": no processor task kind named`)
      assert.strictEqual(yield* refused({ ...good, chain: "elsewhere" }), `Invalid: watcher "good": unknown chain "elsewhere"`)
      assert.strictEqual(
        yield* refused({ ...good, objects: [`0x${"1".repeat(64)}`] }),
        `Invalid: watcher "good": chain "dev" (evm) has no objects to watch`
      )
      assert.strictEqual(yield* refused({ ...good, accounts: [] }), `Invalid: watcher "good": it watches no account, no contract and no object`)
      assert.strictEqual(yield* refused({ ...good, accounts: undefined as never }), `Invalid: watcher "good": it watches no account, no contract and no object`)
      assert.strictEqual(
        yield* refused({ ...good, contracts: [{ address: address(2), events: [] }] }),
        `Invalid: watcher "good": contract ${address(2)} lists no events`
      )
      assert.strictEqual(yield* refused({ ...good, startBlock: -1 }), `Invalid: watcher "good": startBlock must be a block number ≥ 0, not -1`)
      assert.strictEqual(yield* refused({ ...good, startBlock: 2.5 }), `Invalid: watcher "good": startBlock must be a block number ≥ 0, not 2.5`)
      // a taken name is refused, the first watcher kept as it was
      const first = yield* watchers.add({ ...good, paused: true })
      assert.strictEqual(yield* refused({ ...good, accounts: [address(2)] }), `Invalid: watcher "good": a watcher of this name exists`)
      assert.deepStrictEqual(yield* watchers.get("good"), first)
      yield* watchers.remove("good")
    }))

  it.effect("the defaults: the start block is the first not at depth (never below 0), the depth 12, the watcher active; accounts are spelled once in lower case, contract addresses too; a start at block 0 is taken", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const watchers = yield* Watchers.Watchers
      yield* act.mine(5)
      const head = yield* act.head
      const defaulted = yield* watchers.add({
        name: "defaulted",
        chain: "dev",
        processor: Record.name,
        accounts: [address(3), address(3).toUpperCase().replace("0X", "0x"), address(4)],
        contracts: [{ address: address(5).toUpperCase().replace("0X", "0x"), events: [transfer] }]
      })
      assert.deepStrictEqual(
        [defaulted.confirmations, defaulted.startBlock, defaulted.confirmedBlock, defaulted.status],
        [Watchers.defaultConfirmations, Math.max(0, head - 12 + 1), Math.max(0, head - 12 + 1) - 1, "active"]
      )
      assert.deepStrictEqual(defaulted.accountSets, [{ fromBlock: defaulted.startBlock, accounts: [address(3), address(4)] }])
      assert.deepStrictEqual(defaulted.contracts, [{ address: address(5), events: [transfer] }])
      assert.deepStrictEqual(defaulted.objects, [])
      const shallow = yield* watchers.add({ name: "shallow", chain: "dev", processor: Record.name, accounts: [address(3)], confirmations: 2, paused: false })
      assert.deepStrictEqual([shallow.startBlock, shallow.status], [head - 1, "active"])
      const deep = yield* watchers.add({ name: "deep", chain: "dev", processor: Record.name, accounts: [address(3)], confirmations: head + 50, paused: true })
      assert.deepStrictEqual([deep.startBlock, deep.confirmedBlock, deep.status], [0, -1, "paused"])
      // block 0 given: the lowest start there is, taken as given
      const genesis = yield* watchers.add({ name: "genesis", chain: "dev", processor: Record.name, accounts: [address(3)], startBlock: 0, paused: true })
      assert.deepStrictEqual([genesis.startBlock, genesis.confirmedBlock], [0, -1])
      // the stored watcher reads back as added
      assert.deepStrictEqual(yield* watchers.get("defaulted"), defaulted)
      for (const name of ["defaulted", "shallow", "deep", "genesis"]) yield* watchers.remove(name)
    }))

  it.effect("setAccounts: an unknown watcher, a bad account, an empty set with nothing else watched, a block already recorded or not whole are refused, nothing written; a contract watcher may drop its accounts", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const watchers = yield* Watchers.Watchers
      yield* watchers.add({ name: "accounts", chain: "dev", processor: Record.name, accounts: [address(6)], confirmations: 0, paused: true })
      yield* act.mine(2)
      yield* watchers.poll("accounts")
      const cursor = (yield* watchers.get("accounts")).confirmedBlock
      const sets = (yield* watchers.get("accounts")).accountSets
      const refused = (accounts: ReadonlyArray<string>, options?: { readonly fromBlock?: number }) =>
        Effect.gen(function*() {
          const result = yield* refusal(watchers.setAccounts("accounts", accounts, options))
          assert.deepStrictEqual((yield* watchers.get("accounts")).accountSets, sets, `${result}: an account set was written`)
          return result
        })
      assert.strictEqual(yield* refusal(watchers.setAccounts("nobody", [address(7)])), `UnknownWatcher: no watcher named "nobody"`)
      assert.match(yield* refused([address(7), "0x12"]), /^Invalid: watcher "accounts": .*0x12/)
      assert.strictEqual(yield* refused([]), `Invalid: watcher "accounts": it would watch no account, no contract and no object`)
      assert.strictEqual(
        yield* refused([address(7)], { fromBlock: cursor }),
        `Invalid: watcher "accounts": block ${cursor} is already recorded (the cursor is at ${cursor})`
      )
      assert.strictEqual(
        yield* refused([address(7)], { fromBlock: cursor + 0.5 }),
        `Invalid: watcher "accounts": block ${cursor + 0.5} is already recorded (the cursor is at ${cursor})`
      )
      // by default the set takes effect at the block after the cursor; the same block again replaces it
      assert.strictEqual(yield* watchers.setAccounts("accounts", [address(7)]), cursor + 1)
      assert.strictEqual(yield* watchers.setAccounts("accounts", [address(8), address(8)], { fromBlock: cursor + 1 }), cursor + 1)
      assert.deepStrictEqual((yield* watchers.get("accounts")).accountSets, [...sets, { fromBlock: cursor + 1, accounts: [address(8)] }])

      yield* watchers.add({
        name: "contract",
        chain: "dev",
        processor: Record.name,
        accounts: [address(6)],
        contracts: [{ address: address(9), events: [transfer] }],
        confirmations: 0,
        paused: true
      })
      const from = yield* watchers.setAccounts("contract", [])
      assert.deepStrictEqual((yield* watchers.get("contract")).accountSets.at(-1), { fromBlock: from, accounts: [] })
      for (const name of ["accounts", "contract"]) yield* watchers.remove(name)
    }))

  it.effect("every operation on a watcher that does not exist fails with UnknownWatcher, and creates nothing", () =>
    Effect.gen(function*() {
      const watchers = yield* Watchers.Watchers
      const unknown = `UnknownWatcher: no watcher named "nobody"`
      assert.strictEqual(yield* refusal(watchers.get("nobody")), unknown)
      assert.strictEqual(yield* refusal(watchers.lag("nobody")), unknown)
      assert.strictEqual(yield* refusal(watchers.items("nobody")), unknown)
      assert.strictEqual(yield* refusal(watchers.poll("nobody")), unknown)
      assert.strictEqual(yield* refusal(watchers.pause("nobody")), unknown)
      assert.strictEqual(yield* refusal(watchers.resume("nobody")), unknown)
      assert.strictEqual(yield* refusal(watchers.remove("nobody")), unknown)
    }))

  it.effect("a watcher declared at start with a bad definition fails the service's start with Invalid; a good one is added, and one that exists keeps its stored definition", () =>
    Effect.gen(function*() {
      const watchers = yield* Watchers.Watchers
      const declared = { name: "declared", chain: "dev", processor: Record.name, accounts: [address(13)], confirmations: 1, paused: true }
      const [reason, message] = reasonOf(yield* Effect.exit(Effect.scoped(Watchers.make({ watchers: [{ ...declared, chain: "elsewhere" }] }))))
      assert.deepStrictEqual([reason, message], ["Invalid", `watcher "declared": unknown chain "elsewhere"`])
      assert.deepStrictEqual((yield* watchers.list).map((watcher) => watcher.name), [])
      yield* Effect.scoped(Watchers.make({ watchers: [declared] }))
      const added = yield* watchers.get("declared")
      assert.deepStrictEqual([added.confirmations, added.status, added.accountSets.map((set) => set.accounts)], [1, "paused", [[address(13)]]])
      yield* Effect.scoped(Watchers.make({ watchers: [{ ...declared, accounts: [address(14)], confirmations: 4 }] }))
      assert.deepStrictEqual(yield* watchers.get("declared"), added)
      yield* watchers.remove("declared")
    }))

  it.effect("a processor kind not registered here: the items are recorded and stay unsubmitted, the tick fails naming the kind, and lag shows it until a tick succeeds", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const act = node(chain.url)
      const watchers = yield* Watchers.Watchers
      const watched = address(10)
      yield* watchers.add({ name: "unregistered", chain: "dev", processor: "test.nowhere", accounts: [watched], confirmations: 0, paused: true })
      const hash = yield* act.sendRaw(yield* act.sign(11, watched, 1n))
      const exit = yield* Effect.exit(watchers.poll("unregistered"))
      const [reason, message] = reasonOf(exit)
      assert.strictEqual(reason, "Invalid")
      assert.include(message, `watcher "unregistered": submitting to "test.nowhere": `)
      assert.include(message, "test.nowhere")
      const rows = yield* watchers.items("unregistered")
      assert.deepStrictEqual(rows.map((row) => [row.id, row.status, row.taskId]), [[`dev:${hash}`, "detected", null]])
      const lag = yield* watchers.lag("unregistered")
      assert.strictEqual(lag.lastError, message)
      assert.strictEqual(lag.processed, lag.confirmed - 1, "the processed cursor passed an item never submitted")
      // removed and added again under the name, the watcher starts afresh: no head seen, no error; with nothing to submit it ticks cleanly
      yield* watchers.remove("unregistered")
      yield* watchers.add({ name: "unregistered", chain: "dev", processor: "test.nowhere", accounts: [address(12)], confirmations: 0, paused: true })
      assert.deepStrictEqual(yield* watchers.lag("unregistered"), {
        watcher: "unregistered",
        head: null,
        confirmed: (yield* watchers.get("unregistered")).confirmedBlock,
        processed: (yield* watchers.get("unregistered")).confirmedBlock,
        reorgs: 0,
        lastError: null,
        observedAt: null
      })
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(watchers.poll("unregistered"))))
      assert.strictEqual((yield* watchers.lag("unregistered")).lastError, null)
      yield* watchers.remove("unregistered")
    }))
})
