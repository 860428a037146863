/**
 * The watch RPC group (`WatchRpcs`) served in the test process by
 * `WatchRpcServer` over a real socket, read and changed through
 * `WatchRpcClient` over HTTP and WebSocket: every principal reads, only an
 * admin changes (another principal's change is `WatchForbidden` naming it and
 * the RPC, and changes nothing), each call's arguments reach the watchers and
 * the balance cache as given, and hostile input — malformed names, payloads
 * of the wrong shape, unknown RPCs, payloads too deep or too large — gets a
 * typed refusal and writes nothing.
 */
import * as net from "node:net"
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Layer, Scope } from "effect"
import { DevChain } from "@chainjobs/devchain"
import { WatchRpcClient } from "@chainjobs/rpc"
import type { Watchers } from "@chainjobs/watch"
import { failureOf } from "./assertions.ts"
import { Noted, paths, WatchServer, watchServer } from "./watchServer.ts"

const alice = "alice-token"
const root = "root-token"

/** The deepest payload the server takes, and the largest body or WebSocket line, in bytes. */
const maxDepth = 5
const maxBodyBytes = 8192

const server = watchServer({ maxBodyBytes }, { payloadLimit: { maxBytes: 64 * 1024, maxDepth } })

type Transport = "http" | "websocket"

/** Runs `effect` with a client of the server over `transport`, as the principal of `token`. */
const as = <A, E>(transport: Transport, token: string, effect: Effect.Effect<A, E, WatchRpcClient.WatchRpcClient>) =>
  Effect.flatMap(WatchServer, ({ port }) =>
    Effect.scoped(Effect.provide(
      effect,
      transport === "http"
        ? WatchRpcClient.layerHttp({ url: `http://127.0.0.1:${port}${paths.http}`, token })
        : WatchRpcClient.layerWebsocket({ url: `ws://127.0.0.1:${port}${paths.websocket}`, token })
    )))

const client = WatchRpcClient.WatchRpcClient

/** The typed failure of an exit as a short name: the tag, and a `WatchError`'s reason. */
const tagOf = (exit: Exit.Exit<unknown, unknown>): string => {
  const error = failureOf(exit) as { readonly _tag: string; readonly reason?: { readonly _tag: string } }
  return error._tag === "WatchError" || error._tag === "TaskAccessError" ? `${error._tag}/${error.reason!._tag}` : error._tag
}

/** Every watcher as the admin reads it, by name, without its volatile cursor. */
const snapshot = Effect.map(as("http", root, client.use((watch) => watch.list)), (list) =>
  list.map(({ confirmedBlock: _, ...rest }) => rest).sort((a, b) => a.name.localeCompare(b.name)))

/** One JSON-RPC call to the dev chain's node; its result. */
const nodeCall = (url: string, method: string, params: ReadonlyArray<unknown>) =>
  Effect.promise(() =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params })
    }).then((response) => response.json() as Promise<{ readonly result: string }>)
  ).pipe(Effect.map((answer) => answer.result))

/** A dev account's address, lowercase. */
const account = (index: number) => DevChain.accounts[index]!.address.toLowerCase()

/** A watcher of `accounts` processed by the test processor. */
const spec = (name: string, accounts: ReadonlyArray<string>, more: Partial<Watchers.WatcherSpec> = {}): Watchers.WatcherSpec => ({
  name,
  chain: "dev",
  processor: Noted.name,
  accounts,
  confirmations: 1,
  ...more
})

/** Reads until `check` holds, every 20 ms and at most `times` times; dies naming what it saw last when it never holds. */
const until = <A, E, R>(read: Effect.Effect<A, E, R>, check: (value: A) => boolean, what: string, times = 500) =>
  Effect.gen(function*() {
    let last = yield* read
    for (let tries = 1; !check(last); tries++) {
      if (tries >= times) {
        return yield* Effect.die(new Error(`${what}: not seen after ${times} reads; the last: ${JSON.stringify(last, (_, v) => typeof v === "bigint" ? String(v) : v)}`))
      }
      yield* Effect.sleep("20 millis")
      last = yield* read
    }
    return last
  })

/** What the server answered one HTTP body: its status and the parsed body (lines of ndjson, or one JSON refusal). */
const post = (body: string) =>
  Effect.flatMap(WatchServer, ({ port }) =>
    Effect.promise(async () => {
      const response = await fetch(`http://127.0.0.1:${port}${paths.http}`, {
        method: "POST",
        headers: { "content-type": "application/ndjson" },
        body
      })
      const text = await response.text()
      return { status: response.status, lines: text.trim().split("\n").filter((line) => line !== "").map((line) => JSON.parse(line)) }
    }))

/**
 * Sends `message` over a raw WebSocket; collects the answer lines until one is
 * a call's end (then it closes the socket itself) or the server closes it, and
 * how it closed it (no code when this side closed it).
 */
const overWebsocket = (message: string) =>
  Effect.flatMap(WatchServer, ({ port }) =>
    Effect.promise(() =>
      new Promise<{ readonly answers: ReadonlyArray<any>; readonly code?: number; readonly reason?: string }>((resolve) => {
        const answers: Array<any> = []
        const socket = new WebSocket(`ws://127.0.0.1:${port}${paths.websocket}`)
        socket.onopen = () => socket.send(message)
        socket.onmessage = (event) => {
          for (const line of String(event.data).split("\n")) if (line !== "") answers.push(JSON.parse(line))
          if (answers.some((answer) => answer._tag === "Exit")) {
            socket.onclose = null
            socket.close()
            resolve({ answers })
          }
        }
        socket.onclose = (event) => resolve({ answers, code: event.code, reason: event.reason })
      })
    ))

/** One request line of the group, with `token`'s bearer header. */
const line = (tag: string, payload: unknown, token = root, id: string | number = 1) =>
  `${JSON.stringify({ _tag: "Request", id, tag, payload, headers: [["authorization", `Bearer ${token}`]] })}\n`

/** The error a raw answer line carries: its `_tag` and, for a `WatchError` or `MalformedRequest`, what it names. */
const errorOf = (answers: ReadonlyArray<any>) => {
  const exit = answers.find((answer) => answer._tag === "Exit")
  assert.isDefined(exit, `an Exit among ${JSON.stringify(answers)}`)
  assert.strictEqual(exit.exit._tag, "Failure", JSON.stringify(exit))
  const failure = exit.exit.cause.find((reason: any) => reason._tag === "Fail")
  assert.isDefined(failure, `a typed failure in ${JSON.stringify(exit)}`)
  return failure.error
}

layer(server, { excludeTestServices: true, timeout: "120 seconds" })("WatchRpcs in process, on a dev chain", (it) => {
  for (const transport of ["http", "websocket"] as const) {
    describe(`over ${transport}`, () => {
      it.effect("any principal reads a watcher, its lag and the items it recorded from the chain", () =>
        Effect.gen(function*() {
          const chain = yield* DevChain.DevChain
          const name = `reads-${transport}`
          const watched = account(transport === "http" ? 12 : 13)
          yield* as(transport, root, client.use((watch) => watch.add(spec(name, [watched], { startBlock: 0 }))))
          // a transfer to the watched account, mined at once, then a block above it: with one confirmation it is recorded
          const hash = yield* nodeCall(chain.url, "eth_sendTransaction", [{ from: DevChain.accounts[3]!.address, to: watched, value: "0x2a" }])
          yield* nodeCall(chain.url, "hardhat_mine", ["0x1"])
          yield* as(transport, alice, Effect.gen(function*() {
            const watch = yield* client
            assert.include((yield* watch.list).map((watcher) => watcher.name), name)
            const info = yield* watch.get(name)
            assert.deepInclude(info, { name, chain: "dev", processor: Noted.name, confirmations: 1, startBlock: 0, status: "active" })
            assert.deepStrictEqual(info.accountSets.map((set) => [set.fromBlock, set.accounts]), [[0, [watched]]])
            const items = yield* until(Effect.map(watch.items(name), (page) => page.items), (rows) => rows.length > 0, `an item of ${name}`)
            assert.strictEqual(items.length, 1)
            assert.deepInclude(items[0]!.item, { watcher: name, chain: "dev", kind: "native", transaction: hash, to: watched, amount: "42" })
            const lag = yield* until(watch.lag(name), (lag) => lag.processed >= items[0]!.item.block, `${name}'s lag`)
            assert.strictEqual(lag.watcher, name)
            assert.isAtLeast(lag.head!, lag.confirmed)
            assert.isNull(lag.lastError)
          }))
          yield* as(transport, root, client.use((watch) => watch.remove(name)))
        }), 60_000)

      it.effect("a balance comes from the chain once, then from the cache, unless verified or older than maxAgeMillis", () =>
        as(transport, alice, Effect.gen(function*() {
          const watch = yield* client
          const owner = DevChain.accounts[transport === "http" ? 14 : 15]!.address
          const first = yield* watch.balance("dev", owner, "native")
          assert.deepInclude(first, { chain: "dev", account: owner.toLowerCase(), asset: "native", fromChain: true })
          assert.strictEqual(first.amount, 10_000n * 10n ** 18n)
          assert.isFalse((yield* watch.balance("dev", owner, "native")).fromChain)
          assert.isFalse((yield* watch.balance("dev", owner, "native", { maxAgeMillis: 3_600_000 })).fromChain)
          assert.isTrue((yield* watch.balance("dev", owner, "native", { maxAgeMillis: 0 })).fromChain)
          assert.isTrue((yield* watch.balance("dev", owner, "native", { verify: true })).fromChain)
          const all = yield* watch.allBalances("dev", owner)
          assert.deepStrictEqual(all.map((balance) => [balance.asset, balance.amount]), [["native", first.amount]])
          assert.isTrue(all[0]!.fromChain, "the first listing of an account's assets reads the chain")
          assert.isFalse((yield* watch.allBalances("dev", owner))[0]!.fromChain)
          assert.isTrue((yield* watch.allBalances("dev", owner, { verify: true }))[0]!.fromChain)
          assert.isTrue((yield* watch.allBalances("dev", owner, { maxAgeMillis: 0 }))[0]!.fromChain)
        })), 60_000)

      it.effect("the cached balances are listed a page at a time, filtered as asked", () =>
        as(transport, alice, Effect.gen(function*() {
          const watch = yield* client
          // addresses no one uses: each balance is read from the chain (zero) and cached
          const owners = [1, 2, 3].map((index) => `0x${(index + (transport === "http" ? 0xa0 : 0xb0)).toString(16).padStart(40, "0")}`)
          for (const owner of owners) yield* watch.balance("dev", owner, "native")
          const mine = new Set(owners.map((owner) => owner.toLowerCase()))
          const seen: Array<string> = []
          let cursor: string | undefined
          for (let page = 0; page < 100; page++) {
            const listed = yield* watch.balances({ chain: "dev", limit: 1, ...(cursor === undefined ? {} : { cursor }) })
            assert.isAtMost(listed.balances.length, 1)
            seen.push(...listed.balances.map((balance) => balance.account))
            if (listed.next === undefined) break
            cursor = listed.next
          }
          assert.includeMembers(seen, [...mine])
          assert.strictEqual(new Set(seen).size, seen.length, "no balance listed twice")
          const one = yield* watch.balances({ chain: "dev", account: owners[1]! })
          assert.deepStrictEqual(one.balances.map((balance) => balance.account), [owners[1]!.toLowerCase()])
        })), 60_000)

      it.effect("another principal's changes are WatchForbidden, naming it and the RPC, and change nothing", () =>
        Effect.gen(function*() {
          const name = `kept-${transport}`
          yield* as(transport, root, client.use((watch) => watch.add(spec(name, [account(5)]))))
          const before = yield* snapshot
          const refusals = yield* as(transport, alice, Effect.gen(function*() {
            const watch = yield* client
            return yield* Effect.all([
              Effect.exit(watch.add(spec(`intruder-${transport}`, [account(6)]))),
              Effect.exit(watch.pause(name)),
              Effect.exit(watch.resume(name)),
              Effect.exit(watch.setAccounts(name, [account(7)])),
              Effect.exit(watch.remove(name))
            ])
          }))
          assert.deepStrictEqual(
            (refusals as ReadonlyArray<Exit.Exit<unknown, unknown>>).map((exit) => {
              const error = failureOf(exit) as { readonly _tag: string; readonly principal: string; readonly operation: string }
              return [error._tag, error.principal, error.operation]
            }),
            ["AddWatcher", "PauseWatcher", "ResumeWatcher", "SetAccounts", "RemoveWatcher"].map((operation) => ["WatchForbidden", "alice", operation])
          )
          assert.deepStrictEqual(yield* snapshot, before)
          yield* as(transport, root, client.use((watch) => watch.remove(name)))
        }), 60_000)

      it.effect("an admin adds, pauses, resumes, changes the accounts of and removes a watcher, each as asked", () =>
        as(transport, root, Effect.gen(function*() {
          const watch = yield* client
          const name = `changed-${transport}`
          // as a JavaScript caller builds it from optional settings: the unset ones are undefined
          const added = yield* watch.add({ ...spec(name, [account(8)]), paused: true, startBlock: undefined } as unknown as Watchers.WatcherSpec)
          assert.deepInclude(added, { name, status: "paused", confirmations: 1 })
          assert.strictEqual((yield* watch.get(name)).status, "paused")
          yield* watch.resume(name)
          assert.strictEqual((yield* watch.get(name)).status, "active")
          yield* watch.pause(name)
          assert.strictEqual((yield* watch.get(name)).status, "paused")
          // paused, the cursor stays: the new set starts after it, or at the block asked for
          const cursor = (yield* watch.get(name)).confirmedBlock
          const next = yield* watch.setAccounts(name, [account(9)])
          assert.strictEqual(next, cursor + 1)
          const later = yield* watch.setAccounts(name, [account(9), account(10)], { fromBlock: cursor + 50 })
          assert.strictEqual(later, cursor + 50)
          // nothing is recorded yet, so the set after the cursor replaces the first one
          assert.strictEqual(added.startBlock, cursor + 1)
          assert.deepStrictEqual(
            (yield* watch.get(name)).accountSets.map((set) => [set.fromBlock, [...set.accounts].sort()]),
            [[cursor + 1, [account(9)]], [cursor + 50, [account(9), account(10)].sort()]]
          )
          yield* watch.remove(name)
          assert.strictEqual(tagOf(yield* Effect.exit(watch.get(name))), "WatchError/UnknownWatcher")
        })), 60_000)

      it.effect("malformed and unknown watcher names get a typed error naming them, and nothing is written", () =>
        Effect.gen(function*() {
          const before = yield* snapshot
          const names = ["", "../etc/passwd", "a".repeat(101), "名前", "with space", "x;DROP TABLE watchers"]
          const exits = yield* as(transport, root, Effect.gen(function*() {
            const watch = yield* client
            return yield* Effect.forEach(names, (name) =>
              Effect.all([
                Effect.exit(watch.add(spec(name, [account(11)]))),
                Effect.exit(watch.get(name)),
                Effect.exit(watch.lag(name)),
                Effect.exit(watch.items(name)),
                Effect.exit(watch.pause(name)),
                Effect.exit(watch.resume(name)),
                Effect.exit(watch.setAccounts(name, [account(11)])),
                Effect.exit(watch.remove(name))
              ]))
          }))
          exits.forEach((row: ReadonlyArray<Exit.Exit<unknown, unknown>>, index) => {
            assert.deepStrictEqual(row.map(tagOf), [
              "WatchError/Invalid",
              ...Array.from({ length: 7 }, () => "WatchError/UnknownWatcher")
            ], names[index])
            for (const exit of row.slice(1)) {
              assert.strictEqual((failureOf(exit) as { readonly reason: { readonly watcher: string } }).reason.watcher, names[index])
            }
          })
          // bad definitions: an account that is none, an unknown chain, no processor, nothing watched
          const refused = yield* as(transport, root, Effect.gen(function*() {
            const watch = yield* client
            return yield* Effect.all([
              Effect.exit(watch.add(spec(`bad-account-${transport}`, ["0xnope"]))),
              Effect.exit(watch.add({ ...spec(`bad-chain-${transport}`, [account(11)]), chain: "no-such-chain" })),
              Effect.exit(watch.add({ ...spec(`bad-processor-${transport}`, [account(11)]), processor: "" })),
              Effect.exit(watch.add(spec(`nothing-${transport}`, []))),
              Effect.exit(watch.balance("dev", "0xnope", "native")),
              Effect.exit(watch.balances({ limit: 0 })),
              Effect.exit(watch.balances({ cursor: "not a cursor" }))
            ])
          }))
          assert.deepStrictEqual(refused.map(tagOf).map((tag) => tag.replace("ChainFailed", "Invalid")), Array.from({ length: 7 }, () => "WatchError/Invalid"))
          assert.deepStrictEqual(yield* snapshot, before)
        }), 60_000)
    })
  }

  describe("against hostile input", () => {
    it.effect("a payload of the wrong shape is a typed MalformedRequest naming the RPC, over HTTP and WebSocket, and writes nothing", () =>
      Effect.gen(function*() {
        const before = yield* snapshot
        const cases: ReadonlyArray<readonly [string, unknown]> = [
          ["GetWatcher", { name: 7 }],
          ["GetWatcher", null],
          ["WatcherLag", { name: ["a"] }],
          ["WatcherItems", "deposits"],
          ["AddWatcher", { name: "x", chain: 1, processor: [] }],
          ["AddWatcher", { name: "x", chain: "dev", processor: Noted.name, accounts: "0xabc" }],
          ["PauseWatcher", {}],
          ["SetAccounts", { name: "x", accounts: [1, 2] }],
          ["SetAccounts", { name: "x", accounts: [], fromBlock: 1.5 }],
          ["RemoveWatcher", { name: null }],
          ["ReadBalance", { chain: "dev", account: 5, asset: "native" }],
          ["ReadBalance", { chain: "dev", account: "0x00", asset: "native", maxAgeMillis: -1 }],
          ["ReadBalance", { chain: "dev", account: "0x00", asset: "native", maxAgeMillis: 1.5 }],
          ["ReadAllBalances", { chain: "dev", account: "0x00", maxAgeMillis: 365 * 24 * 3_600_000 + 1 }],
          ["ReadAllBalances", { chain: "dev" }],
          ["ListBalances", { limit: "ten" }]
        ]
        for (const [tag, payload] of cases) {
          const answered = yield* post(line(tag, payload))
          assert.strictEqual(answered.status, 200, `${tag} ${JSON.stringify(payload)}`)
          assert.deepInclude(errorOf(answered.lines), { _tag: "MalformedRequest", problem: "payload", rpc: tag })
          const socket = yield* overWebsocket(line(tag, payload))
          assert.deepInclude(errorOf(socket.answers), { _tag: "MalformedRequest", problem: "payload", rpc: tag })
        }
        // a number JSON reads as Infinity is no age limit either ("any age" is no maxAgeMillis at all): its frame is refused
        const infinite = line("ReadBalance", { chain: "dev", account: "0x00", asset: "native", maxAgeMillis: 7 }).replace(`"maxAgeMillis":7`, `"maxAgeMillis":1e400`)
        assert.deepInclude((yield* post(infinite)).lines[0], { _tag: "MalformedRequest", problem: "frame" })
        assert.deepStrictEqual(yield* snapshot, before)
      }), 60_000)

    it.effect("a line that is no request of the group is refused whole: 400 over HTTP, the socket closed with a code and reason", () =>
      Effect.gen(function*() {
        const before = yield* snapshot
        const unknown = yield* post(line("Submit", { kind: "add", payload: {} }))
        assert.strictEqual(unknown.status, 400)
        assert.deepInclude(unknown.lines[0], { _tag: "MalformedRequest", problem: "unknown-rpc", rpc: "Submit" })
        const socket = yield* overWebsocket(line("Purge", {}))
        assert.strictEqual(socket.code, 1008)
        assert.match(socket.reason!, /^MalformedRequest: .*Purge/)
        const withPayload = yield* post(line("ListWatchers", { name: "x" }))
        assert.strictEqual(withPayload.status, 400)
        assert.deepInclude(withPayload.lines[0], { _tag: "MalformedRequest", problem: "payload", rpc: "ListWatchers" })
        // a body whose second line is malformed is refused whole: the first, a change, is not made
        const half = yield* post(line("AddWatcher", spec("half-written", [account(11)]), root, 1) + "{oops\n")
        assert.strictEqual(half.status, 400)
        assert.deepInclude(half.lines[0], { _tag: "MalformedRequest", problem: "frame" })
        const twice = yield* post(line("GetWatcher", { name: "a" }, root, 2) + line("GetWatcher", { name: "b" }, root, 2))
        assert.deepInclude(twice.lines[0], { _tag: "MalformedRequest", problem: "duplicate-id", rpc: "GetWatcher" })
        assert.deepStrictEqual(yield* snapshot, before)
      }), 60_000)

    it.effect("a payload deeper than the access rules' limit, or a body larger than maxBodyBytes, is refused before any handler runs", () =>
      Effect.gen(function*() {
        const before = yield* snapshot
        // `events` nested in arrays: the payload is the object (1), `contracts` (2), a contract (3), `events` (4), then one more level each
        const nestedEvents = (levels: number) => {
          let events: unknown = "event E()"
          for (let level = 0; level < levels; level++) events = [events]
          return { ...spec("nested", []), contracts: [{ address: account(11), events }] }
        }
        const deep = nestedEvents(maxDepth - 2)
        const refused = yield* post(line("AddWatcher", deep))
        assert.strictEqual(refused.status, 400)
        assert.deepInclude(refused.lines[0], { _tag: "TaskAccessError" })
        assert.deepInclude(refused.lines[0].reason, { _tag: "PayloadTooDeep", depth: maxDepth + 1, limit: maxDepth })
        // over WebSocket the call fails alone (the line parses: it names one call), typed
        const alone = yield* overWebsocket(line("AddWatcher", deep))
        assert.isUndefined(alone.code)
        assert.deepInclude(errorOf(alone.answers).reason, { _tag: "PayloadTooDeep", depth: maxDepth + 1, limit: maxDepth })
        // exactly at the limit the request passes the door, to be refused by its Schema (events are strings), typed
        const atLimit = nestedEvents(maxDepth - 3)
        const passed = yield* post(line("AddWatcher", atLimit))
        assert.strictEqual(passed.status, 200)
        assert.deepInclude(errorOf(passed.lines), { _tag: "MalformedRequest", problem: "payload", rpc: "AddWatcher" })
        const large = { ...spec("too-large", [account(11)]), processor: "x".repeat(maxBodyBytes) }
        const tooLarge = yield* post(line("AddWatcher", large))
        assert.strictEqual(tooLarge.status, 413)
        assert.deepInclude(tooLarge.lines[0].reason, { _tag: "PayloadTooLarge", limit: maxBodyBytes })
        const socketTooLarge = yield* overWebsocket(line("AddWatcher", large))
        assert.strictEqual(socketTooLarge.code, 1009)
        assert.deepStrictEqual(yield* snapshot, before)
      }), 60_000)

    it.effect("no token, or one the server does not know, is Unauthenticated on every RPC, reads included", () =>
      Effect.gen(function*() {
        for (const token of ["no-such-token"]) {
          const exits = yield* as("http", token, Effect.gen(function*() {
            const watch = yield* client
            return yield* Effect.all([
              Effect.exit(watch.list),
              Effect.exit(watch.get("x")),
              Effect.exit(watch.balance("dev", account(1), "native")),
              Effect.exit(watch.add(spec("anonymous", [account(1)])))
            ])
          }))
          assert.deepStrictEqual(exits.map(tagOf), Array.from({ length: 4 }, () => "TaskAccessError/Unauthenticated"))
        }
        const bare = yield* post(`${JSON.stringify({ _tag: "Request", id: 1, tag: "ListWatchers", payload: null, headers: [] })}\n`)
        assert.deepInclude(errorOf(bare.lines), { _tag: "TaskAccessError" })
      }), 60_000)
  })

  describe("reconnecting", () => {
    it.effect("over WebSocket, a call made while the server cannot be reached waits and is answered once it can be", () =>
      Effect.gen(function*() {
        // a port in front of the server that closes each connection at once (no WebSocket opens), until told to pass them on
        const { port: target } = yield* WatchServer
        let refused = 0
        let passing = false
        const front = net.createServer((socket) => {
          if (!passing) {
            refused++
            socket.destroy()
            return
          }
          const upstream = net.connect(target, "127.0.0.1")
          socket.pipe(upstream).pipe(socket)
          socket.on("error", () => upstream.destroy())
          upstream.on("error", () => socket.destroy())
          socket.on("close", () => upstream.destroy())
          upstream.on("close", () => socket.destroy())
        })
        yield* Effect.acquireRelease(
          Effect.callback<void>((resume) => void front.listen(0, "127.0.0.1", () => resume(Effect.void))),
          () => Effect.callback<void>((resume) => void front.close(() => resume(Effect.void)))
        )
        const port = (front.address() as net.AddressInfo).port
        const clientScope = yield* Scope.make()
        const watch = Context.get(
          yield* Layer.buildWithScope(WatchRpcClient.layerWebsocket({ url: `ws://127.0.0.1:${port}${paths.websocket}`, token: alice }), clientScope),
          WatchRpcClient.WatchRpcClient
        )
        const before = refused
        const call = yield* Effect.forkChild(watch.list)
        for (let tries = 0; refused < before + 2; tries++) {
          if (tries > 3000) return yield* Effect.die(new Error(`the client tried to connect ${refused - before} times, not 2`))
          yield* Effect.sleep("10 millis")
        }
        assert.isUndefined(call.pollUnsafe(), "the call is still waiting")
        passing = true
        const listed = yield* Fiber.join(call)
        assert.isArray(listed)
        // the client goes first: the front's end waits for the connections still open through it
        yield* Scope.close(clientScope, Exit.void)
      }), 60_000)
  })
})
