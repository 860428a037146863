/**
 * The commands over the service's typed REST clients (`chains`, `chain
 * check`, `schedules`, `sui check --network`) against a scripted server
 * (`scriptedHttp.ts`): a `--url` ending in a slash reaches the same routes,
 * the bearer goes only with a token, an empty list says so, and an answer
 * the API does not declare is told as what it is (`ApiClientFailure`) — the
 * status the server answered, or routes it does not serve — not as a server
 * that cannot be reached.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option } from "effect"
import * as ApiClientFailure from "../src/ApiClientFailure.ts"
import { runCli } from "./cli.ts"
import { type Answer, scriptedHttp } from "./scriptedHttp.ts"

/** The message of the typed error a run ended with, or "" when it succeeded. */
const failure = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return ""
  const error = Exit.findErrorOption(exit)
  return Option.isSome(error) ? `${(error.value as any)._tag}: ${(error.value as Error).message}` : "died"
}

/** A Sui check as `/api/sui/networks/:network/check` answers it. */
const suiCheck = { endpoint: "http://sui-node", chainIdentifier: "35834a8a", latestCheckpoint: 7, latencyMillis: 3 }

/** Runs each command against a server answering `answer`; what each printed or failed with, and what it sent. */
const against = (answer: (url: string) => Answer, commands: ReadonlyArray<ReadonlyArray<string>>, shared: ReadonlyArray<string> = []) =>
  Effect.scoped(Effect.gen(function*() {
    const server = yield* scriptedHttp((seen) => answer(seen.url))
    const said: Array<string> = []
    for (const command of commands) {
      const run = yield* runCli(["--url", `${server.url}/`, ...shared, ...command])
      said.push(Exit.isSuccess(run.exit) ? run.lines.join("\n") : failure(run.exit))
    }
    return { said, seen: server.seen.map((seen) => `${seen.method} ${seen.url} ${seen.authorization ?? "-"}`), url: `${server.url}/` }
  }))

describe("the typed REST clients' commands on the wire", () => {
  it.live("a --url ending in a slash is not doubled before /api; the bearer goes only with a token; empty lists say so", () =>
    Effect.gen(function*() {
      const answer = (url: string): Answer => ({ status: 200, json: url.includes("/sui/") ? suiCheck : [] })
      const commands = [["chains"], ["schedules", "list"], ["sui", "check", "--network", "main"]]
      const anonymous = yield* against(answer, commands)
      assert.deepStrictEqual(anonymous.said, ["no chains", "no schedules", "http://sui-node  chain 35834a8a (mainnet)  checkpoint 7  3 ms"])
      assert.deepStrictEqual(anonymous.seen, ["GET /api/chains -", "GET /api/schedules -", "GET /api/sui/networks/main/check -"])
      const alice = yield* against(answer, commands, ["--token", "alice-token"])
      assert.deepStrictEqual(alice.said, anonymous.said)
      assert.deepStrictEqual(alice.seen, [
        "GET /api/chains Bearer alice-token",
        "GET /api/schedules Bearer alice-token",
        "GET /api/sui/networks/main/check Bearer alice-token"
      ])
    }))

  it.live("an undeclared status is told as the server's answer, not as a server out of reach", () =>
    Effect.gen(function*() {
      const { said, url } = yield* against(() => ({ status: 500, json: { error: "boom" } }), [
        ["chains"],
        ["chain", "check", "dev"],
        ["schedules", "list"],
        ["schedules", "remove", "nightly"],
        ["sui", "check", "--network", "main"]
      ])
      const answered = `the server at ${url} answered 500: `
      assert.deepStrictEqual(said.map((line) => line.slice(0, line.indexOf(answered) + answered.length)), [
        `ChainCliError: ${answered}`,
        `ChainCliError: ${answered}`,
        `ScheduleCliError: ${answered}`,
        `ScheduleCliError: ${answered}`,
        `SuiCliError: sui check of main: ${answered}`
      ])
    }))

  it.live("a 404 is routes the server does not serve: without chains or Sui networks it says so; schedules tell the status", () =>
    Effect.gen(function*() {
      const { said, url } = yield* against(() => ({ status: 404 }), [
        ["chains"],
        ["chain", "check", "dev"],
        ["sui", "check", "--network", "main"],
        ["schedules", "list"]
      ])
      assert.deepStrictEqual(said.slice(0, 3), [
        `ChainCliError: the server at ${url} has no chains (it was started without any)`,
        `ChainCliError: the server at ${url} has no chains (it was started without any)`,
        `SuiCliError: sui check of main: the server at ${url} has no Sui networks (it was started without any)`
      ])
      assert.isTrue(said[3]!.startsWith(`ScheduleCliError: the server at ${url} answered 404: `), said[3])
    }))

  it("a failure other than the transport's is told by its message, else its tag, else as text", () => {
    assert.isUndefined(ApiClientFailure.transportDetail("http://x", { _tag: "ChainNotFound", message: "no chain" }))
    assert.strictEqual(ApiClientFailure.failureDetail("http://x", { _tag: "ChainNotFound", message: "no chain" }), "no chain")
    assert.strictEqual(ApiClientFailure.failureDetail("http://x", { _tag: "Blank", message: "" }), "Blank")
    assert.strictEqual(ApiClientFailure.failureDetail("http://x", { _tag: "Bare" }), "Bare")
    assert.strictEqual(ApiClientFailure.failureDetail("http://x", "plain words"), "plain words")
    assert.strictEqual(ApiClientFailure.failureDetail("http://x", undefined), "undefined")
  })
})

describe("chain check on the wire", () => {
  const check = { chain: "dev", chainId: 31337, expectedChainId: 31337, chainIdMatches: true, head: 42, latencyMillis: 12.6, endpoints: [] }

  it.live("prints the check's line, or with --json the record; a node on another chain id fails naming both ids", () =>
    Effect.gen(function*() {
      const checks = [check, check, { ...check, chainId: 1, chainIdMatches: false }]
      const { said } = yield* against(() => ({ status: 200, json: checks.shift() }), [
        ["chain", "check", "dev"],
        ["chain", "check", "dev", "--json"],
        ["chain", "check", "dev"]
      ])
      assert.deepStrictEqual(said, [
        "dev  chain id 31337  head 42  13 ms",
        JSON.stringify(check, null, 2),
        "ChainCliError: dev: the node reports chain id 1, configured 31337"
      ])
    }))

  it.live("chain check of a chain whose node does not answer fails with the service's 503: the chain and its request's failure", () =>
    Effect.scoped(Effect.gen(function*() {
      const reason = { _tag: "Timeout", endpoint: "http://node-a", millis: 5 }
      const server = yield* scriptedHttp(() => ({ status: 503, json: { _tag: "ChainUnreachable", chain: "dev", reason } }))
      const checked = yield* runCli(["--url", server.url, "chain", "check", "dev"])
      assert.strictEqual(failure(checked.exit), "ChainCliError: chain dev did not answer: http://node-a: no answer within 5 ms")
    })))
})
