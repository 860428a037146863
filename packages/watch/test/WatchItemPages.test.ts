/**
 * A watcher's item audit read over HTTP a page at a time: every item once, in
 * chain order, whatever the page size; `next` only while items follow; a limit
 * out of range or a cursor the audit did not give is 400 `Invalid`, and reads
 * nothing.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import * as ItemPage from "../src/ItemPage.ts"
import * as WatchItem from "../src/WatchItem.ts"
import * as WatchStore from "../src/WatchStore.ts"
import { address, Record } from "./fixtures.ts"
import { call, served } from "./httpFixtures.ts"

const name = "paged"

/** Item `n` of the audit: three blocks, positions whose ids sort apart from their numbers (`:10` before `:3`). */
const item = (n: number) =>
  new WatchItem.WatchItem({
    watcher: name,
    chain: "dev",
    kind: "token",
    block: 10 + (n % 3),
    blockHash: `0xb${10 + (n % 3)}`,
    transaction: `0x${(n % 4).toString(16).padStart(64, "0")}`,
    position: n,
    from: address(1),
    to: address(2),
    amount: String(n),
    asset: address(3),
    contract: null,
    event: null,
    args: null
  })

const count = 23

/** Every page from the first with `limit`, following `next`: the pages' item ids. */
const walk = (limit: number) =>
  Effect.gen(function*() {
    const pages: Array<ReadonlyArray<string>> = []
    let cursor: string | undefined = undefined
    do {
      const query: string = `?limit=${limit}${cursor === undefined ? "" : `&cursor=${cursor}`}`
      const answer = yield* call("GET", `/api/watch/watchers/${name}/items${query}`)
      assert.strictEqual(answer.status, 200, JSON.stringify(answer.body))
      pages.push(answer.body.items.map((row: any) => row.id))
      cursor = answer.body.next
      assert.isAtMost(pages.length, count + 1, "a walk that never ends")
    } while (cursor !== undefined)
    return pages
  })

layer(served, { excludeTestServices: true, timeout: 120_000 })("a watcher's items a page at a time", (it) => {
  it.effect("every item once, in chain order, whatever the page size; `next` only while items follow", () =>
    Effect.gen(function*() {
      const spec = { name, chain: "dev", processor: Record.name, accounts: [address(2)], confirmations: 1, startBlock: 10, paused: true }
      assert.strictEqual((yield* call("POST", "/api/watch/watchers", spec)).status, 201)
      const items = Array.from({ length: count }, (_, n) => item(n))
      assert.isTrue(yield* WatchStore.ingest(name, 9, 12, "0xb12", items, 1))
      const audit = (yield* WatchStore.items(name)).map((row) => row.id)
      assert.strictEqual(audit.length, count)

      const whole = yield* call("GET", `/api/watch/watchers/${name}/items`)
      assert.deepStrictEqual(whole.body.items.map((row: any) => row.id), audit, "the default page holds all 23")
      assert.notProperty(whole.body, "next")
      assert.deepStrictEqual(whole.body.items[0].item, JSON.parse(JSON.stringify(items.find((one) => WatchItem.id(one) === audit[0]))))

      for (const limit of [1, 2, 5, 11, 22, 23, 24, ItemPage.maxLimit]) {
        const pages = yield* walk(limit)
        assert.deepStrictEqual(pages.flat(), audit, `limit ${limit}`)
        assert.strictEqual(pages.length, Math.max(1, Math.ceil(count / limit)), `pages of ${limit}`)
        assert.isTrue(pages.every((page) => page.length <= limit), `a page of ${limit} held more`)
      }
    }), 90_000)

  it.effect("a limit out of range or a cursor the audit did not give is 400 Invalid; an unknown watcher 404", () =>
    Effect.gen(function*() {
      const cursorOf = (key: unknown) => Buffer.from(JSON.stringify(key)).toString("base64url")
      const refused = [
        "limit=0",
        "limit=1001",
        "limit=-1",
        "limit=2.5",
        "limit=1e400",
        "limit=NaN",
        "cursor=!!!",
        `cursor=${cursorOf([10])}`,
        `cursor=${cursorOf(["10", "dev:0x"])}`,
        `cursor=${cursorOf([-1, "dev:0x"])}`,
        `cursor=${cursorOf([1.5, "dev:0x"])}`,
        `cursor=${cursorOf([2 ** 53, "dev:0x"])}`,
        `cursor=${cursorOf({ block: 10, id: "dev:0x" })}`,
        `cursor=${"A".repeat(4096)}`
      ]
      for (const query of refused) {
        const answer = yield* call("GET", `/api/watch/watchers/${name}/items?${query}`)
        assert.strictEqual(answer.status, 400, `${query.slice(0, 40)}: ${JSON.stringify(answer.body).slice(0, 200)}`)
      }
      const wrongType = yield* call("GET", `/api/watch/watchers/${name}/items?limit=many`)
      assert.strictEqual(wrongType.status, 400)
      const limit = yield* call("GET", `/api/watch/watchers/${name}/items?limit=0`)
      assert.strictEqual(limit.body._tag, "InvalidWatchRequest")
      assert.include(limit.body.message, name)
      assert.include(limit.body.message, `limit must be an integer from 1 to ${ItemPage.maxLimit}, not 0`)
      const cursor = yield* call("GET", `/api/watch/watchers/${name}/items?cursor=${cursorOf([10])}`)
      assert.include(cursor.body.message, "cursor is not one this audit gave")
      const ghost = yield* call("GET", `/api/watch/watchers/ghost/items?limit=5`)
      assert.deepStrictEqual([ghost.status, ghost.body._tag], [404, "WatcherNotFound"])
    }), 60_000)
})
