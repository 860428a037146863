/**
 * How the task command line tells what went wrong, in process and without a service: `watch` against a scripted
 * `/rpc` (`scriptedHttp.ts`) whose `Watch` stream ends before the task reached a terminal status, and `rootCause`,
 * which names a transport failure's innermost cause in "cannot reach the server" — on cause chains a transport does
 * not make every day (a cycle, a `null` cause, a chain deeper than its bound, a string `reason`, no object at all).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Cli from "../src/Cli.ts"
import { failure, runCli } from "./cli.ts"
import { scriptedHttp, type Seen } from "./scriptedHttp.ts"
import { rpcReply, rpcRequest, running } from "./scriptedRpc.ts"

/** A `Watch` answer: `records`, then the stream's end. */
const watchStream = (records: ReadonlyArray<unknown>) => (seen: Seen) => rpcReply(seen, { chunks: records, value: null })

/** Error-like objects whose `cause`s chain `length` deep, each message its depth: `link 0` → `link 1` → … */
const chain = (length: number) => {
  const links = Array.from({ length }, (_, depth) => ({ message: `link ${depth}`, cause: undefined as unknown }))
  links.forEach((link, depth) => (link.cause = links[depth + 1]))
  return links[0]
}

describe("the task command line's failures", () => {
  it.live("watch fails with 'lost track' when the Watch stream ends before a terminal status: after a running record, and with none", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* scriptedHttp(watchStream([running]))
      // a trailing slash on --url is not doubled in the RPC path
      const early = yield* runCli(["--url", `${server.url}/`, "watch", "t-1"])
      assert.strictEqual(failure(early.exit), "CliError: lost track of task t-1 before it finished")
      assert.deepStrictEqual(early.lines, ["[###########...................]  35% running block 7 of 20"])
      assert.strictEqual(server.seen.length, 1)
      assert.strictEqual(server.seen[0]!.method, "POST")
      // the RPC client posts to `<url>/rpc` (with the slash HttpClient's URL joining adds): not to `//rpc`
      assert.match(server.seen[0]!.url, /^\/rpc\/?$/)
      assert.include(JSON.parse(server.seen[0]!.body.split("\n")[0]!), { _tag: "Request", tag: "Watch" })

      const empty = yield* scriptedHttp(watchStream([]))
      const none = yield* runCli(["--url", empty.url, "watch", "t-2"])
      assert.strictEqual(failure(none.exit), "CliError: lost track of task t-2 before it finished")
      assert.deepStrictEqual(none.lines, [])
      assert.strictEqual(empty.seen[0]!.url, server.seen[0]!.url)
    })))

  it.live("a server answering /rpc with no reply to the call (HTML, another call's Exit) is told by what it sent, not as 'Request'", () =>
    Effect.scoped(Effect.gen(function*() {
      const html = yield* scriptedHttp(() => ({ status: 200, json: "<html>not the service</html>" }))
      const page = yield* runCli(["--url", html.url, "status", "t-1"])
      assert.strictEqual(
        failure(page.exit),
        `CliError: cannot reach the server at ${html.url}: Received empty HTTP response from RPC server`
      )
      const other = yield* scriptedHttp((seen) => ({
        status: 200,
        ndjson: [{ _tag: "Exit", requestId: `${rpcRequest(seen).id}1`, exit: { _tag: "Success", value: null } }]
      }))
      const stray = yield* runCli(["--url", other.url, "status", "t-1"])
      assert.strictEqual(
        failure(stray.exit),
        `CliError: cannot reach the server at ${other.url}: HTTP response ended before RPC request completed`
      )
    })))

  it("rootCause stops at a cause that is data (an object with no message, no Error): a request is not a failure", () => {
    const request = { _tag: "Request", id: "0", tag: "Get" }
    assert.strictEqual(Cli.rootCause({ message: "outer", cause: { message: "ended early", cause: request } }), "ended early")
    assert.strictEqual(Cli.rootCause({ message: "outer", reason: { _tag: "Detail" } }), "outer")
    // an Error with an empty message is followed, and named by its tag
    assert.strictEqual(Cli.rootCause({ message: "outer", cause: Object.assign(new Error(""), { _tag: "Timeout" }) }), "Timeout")
  })

  it("rootCause follows causes 16 steps at most: a chain 20 deep names its 17th link", () => {
    assert.strictEqual(Cli.rootCause(chain(20)), "link 16")
    assert.strictEqual(Cli.rootCause(chain(3)), "link 2")
  })

  it("rootCause stops at a null cause or reason, takes an object reason but not a string one, follows a cause that is no object, and names what has no message", () => {
    assert.strictEqual(Cli.rootCause({ message: "outer", cause: null }), "outer")
    // a null reason is an object to `typeof`: the walk stops there rather than printing "null"
    assert.strictEqual(Cli.rootCause({ message: "outer", reason: null }), "outer")
    assert.strictEqual(Cli.rootCause({ message: "outer", reason: "a string" }), "outer")
    // a cause that is not an object (a string, a number) is no data to stop at: it is the innermost cause, told as text
    assert.strictEqual(Cli.rootCause({ message: "outer", cause: "connect refused" }), "connect refused")
    assert.strictEqual(Cli.rootCause({ message: "outer", cause: 7 }), "7")
    assert.strictEqual(Cli.rootCause({ message: "outer", reason: { message: "inner" } }), "inner")
    assert.strictEqual(Cli.rootCause({ _tag: "Timeout" }), "Timeout")
    assert.strictEqual(Cli.rootCause(null), "null")
    assert.strictEqual(Cli.rootCause(undefined), "undefined")
    assert.strictEqual(Cli.rootCause("refused"), "refused")
  })

  it("rootCause ends on a cause cycle: of one at once, of two at the 16-step bound", () => {
    const self: { message: string; cause?: unknown } = { message: "self" }
    self.cause = self
    assert.strictEqual(Cli.rootCause(self), "self")
    const a: { message: string; cause?: unknown } = { message: "a" }
    const b = { message: "b", cause: a }
    a.cause = b
    assert.strictEqual(Cli.rootCause(a), "a")
  })
})
