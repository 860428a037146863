/**
 * The task command line on the wire, against a scripted server (`scriptedHttp.ts`, `scriptedRpc.ts`) rather than the
 * service: what `kinds` sends (the bearer only with a token) and prints for a kind with an example and one without,
 * the next-page hint `list` prints (the filters it repeats, the default limit left out), and the cutoff `purge` asks
 * for. In process, each run a fraction of a second.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Cli from "../src/Cli.ts"
import { failure, runCli } from "./cli.ts"
import { scriptedHttp } from "./scriptedHttp.ts"
import { rpcReply, rpcRequest, running } from "./scriptedRpc.ts"

describe("the task command line on the wire", () => {
  it.live("kinds sends the bearer only with a token, and prints an example payload only for a kind that has one", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scriptedHttp(() => ({ status: 200, json: [{ name: "demo-scan", example: { fromBlock: 1 } }, { name: "bare" }] }))
      const anonymous = yield* runCli(["--url", server.url, "kinds"])
      assert.strictEqual(failure(anonymous.exit), "")
      assert.deepStrictEqual(anonymous.lines, [`demo-scan${" ".repeat(15)}  e.g. --payload '{"fromBlock":1}'`, `bare${" ".repeat(20)}`])
      const signed = yield* runCli(["--url", server.url, "--token", "t0k", "kinds"])
      assert.strictEqual(failure(signed.exit), "")
      assert.deepStrictEqual(server.seen.map((seen) => [seen.method, seen.url, seen.authorization]), [
        ["GET", "/api/kinds", undefined],
        ["GET", "/api/kinds", "Bearer t0k"]
      ])
    })))

  it.live("list prints the next page's command: the filters given, --limit only when not the default", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scriptedHttp((seen) => rpcReply(seen, { value: { items: [running], nextCursor: "c1" } }))
      const plain = yield* runCli(["--url", server.url, "list"])
      assert.strictEqual(failure(plain.exit), "")
      assert.deepStrictEqual(plain.lines, [Cli.header, Cli.describe(running), "more: chainjobs list --cursor c1"])
      const filtered = yield* runCli(["--url", server.url, "list", "--kind", "noop", "--limit", "5"])
      assert.deepStrictEqual(filtered.lines.at(-1), "more: chainjobs list --kind noop --limit 5 --cursor c1")
      assert.deepStrictEqual(server.seen.map((seen) => [rpcRequest(seen).tag, rpcRequest(seen).payload]), [
        ["List", { limit: 20 }],
        ["List", { limit: 5, kind: ["noop"] }]
      ])
    })))

  it.live("purge asks to delete the tasks finished before now less --older-than-seconds, and says how many went", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scriptedHttp((seen) => rpcReply(seen, { value: 3 }))
      const before = Date.now()
      const purged = yield* runCli(["--url", server.url, "purge", "--older-than-seconds", "3600"])
      const after = Date.now()
      assert.strictEqual(failure(purged.exit), "")
      assert.deepStrictEqual(purged.lines, ["purged 3 finished tasks"])
      const request = rpcRequest(server.seen[0]!)
      assert.strictEqual(request.tag, "Purge")
      assert.isAtLeast(request.payload.finishedBefore, before - 3_600_000)
      assert.isAtMost(request.payload.finishedBefore, after - 3_600_000)
    })))
})
