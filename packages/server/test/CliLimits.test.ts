/**
 * The command line's own bounds, through the real executable (a child
 * process) against real sockets that misbehave: a server that accepts and
 * never answers fails `status` after `--timeout` (or `CHAINJOBS_TIMEOUT`)
 * seconds, one that streams an answer without end fails it at
 * `CliRequests.maxAnswerBytes`, and `watch` bounds the wait for its first
 * answer and each next one — a task silent past the limit is watched again,
 * a server silent on that too fails it. Every failure exits 1 naming the
 * server and the bound. A bad flag value (`list --limit -1`, `--timeout 0`)
 * prints what is wrong and what is allowed, and exits 2.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { spawn } from "node:child_process"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { createServer as createTcpServer, type Socket } from "node:net"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import * as MainExit from "../src/MainExit.ts"
import { runCli } from "./cli.ts"
import { rpcRequest, running } from "./scriptedRpc.ts"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

/** How a run of the executable ended: its exit code and what it printed. */
interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `chainjobs ...args` as a child process, with `env` over this process's; killed at the end of the scope. */
const chainjobs = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.flatMap(
    Effect.acquireRelease(
      Effect.sync(() => spawn(process.execPath, [main, ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } })),
      (child) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
    ),
    (child) =>
      Effect.promise(() =>
        new Promise<Run>((resolve) => {
          let stdout = ""
          let stderr = ""
          child.stdout!.on("data", (chunk) => stdout += chunk)
          child.stderr!.on("data", (chunk) => stderr += chunk)
          child.on("exit", (code) => resolve({ code, stdout, stderr }))
        })
      )
  )

/** A TCP server on 127.0.0.1 that accepts every connection and never writes a byte; its URL, and how many it accepted. */
const silentServer = Effect.acquireRelease(
  Effect.promise(() =>
    new Promise<{ readonly url: string; readonly accepted: () => number; readonly close: () => void }>((resolve) => {
      const sockets = new Set<Socket>()
      let accepted = 0
      const server = createTcpServer((socket) => {
        accepted++
        sockets.add(socket)
        socket.on("error", () => undefined)
      })
      server.listen(0, "127.0.0.1", () =>
        resolve({
          url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
          accepted: () => accepted,
          close: () => {
            for (const socket of sockets) socket.destroy()
            server.close()
          }
        }))
    })
  ),
  (server) => Effect.sync(server.close)
)

/** An HTTP server on 127.0.0.1 answering each request as `answer` does; its URL and how many requests it was sent. */
const httpServer = (answer: (request: IncomingMessage, body: string, response: ServerResponse, nth: number) => void) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<{ readonly url: string; readonly requests: () => number; readonly close: () => void }>((resolve) => {
        let requests = 0
        const server = createServer(async (request, response) => {
          let body = ""
          for await (const chunk of request.setEncoding("utf8")) body += chunk
          response.on("error", () => undefined)
          answer(request, body, response, ++requests)
        })
        server.listen(0, "127.0.0.1", () =>
          resolve({
            url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            requests: () => requests,
            close: () => {
              server.closeAllConnections()
              server.close()
            }
          }))
      })
    ),
    (server) => Effect.sync(server.close)
  )

/** Writes `byte` without end, as fast as the reader takes it, until the connection closes. */
const endless = (response: ServerResponse, text: string) => {
  const piece = text.repeat(64 * 1024)
  const more = () => {
    while (!response.destroyed && response.write(piece)) { /* until the socket's buffer is full */ }
  }
  response.on("drain", more)
  more()
}

describe("the command line's bounds", () => {
  it.live("status against a server that accepts and never answers fails after --timeout, or CHAINJOBS_TIMEOUT, and exits 1", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* silentServer
      const flag = yield* chainjobs(["--url", server.url, "--timeout", "1", "status", "t-1"])
      assert.strictEqual(flag.code, 1, flag.stderr)
      assert.strictEqual(flag.stderr.trim(), `chainjobs: the server at ${server.url} sent no answer within 1 s (--timeout, CHAINJOBS_TIMEOUT)`)
      const env = yield* chainjobs(["--url", server.url, "kinds"], { CHAINJOBS_TIMEOUT: "2" })
      assert.strictEqual(env.code, 1, env.stderr)
      assert.include(env.stderr, `the server at ${server.url} sent no answer within 2 s`)
    })), 180_000)

  it.live("status against a server that streams its answer without end fails at the size bound, and exits 1", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* httpServer((_request, _body, response) => {
        response.writeHead(200, { "content-type": "application/ndjson" })
        endless(response, "x")
      })
      // a time limit it does not reach: the line is refused at its 16 MiB (the RPC client's ndjson parser takes
      // tens of seconds over one line that long on a loaded machine)
      const run = yield* chainjobs(["--url", server.url, "--timeout", "600", "status", "t-1"])
      assert.strictEqual(run.code, 1, run.stderr)
      assert.include(run.stderr, `the server at ${server.url} sent an answer of more than ${16 * 1024 * 1024} bytes`)
    })), 300_000)

  it.live("a REST command against a server that trickles its answer fails at the time limit, read whole", () =>
    Effect.scoped(Effect.gen(function*() {
      // a newline every 300 ms: never silent for a second, never done
      const server = yield* httpServer((_request, _body, response) => {
        response.writeHead(200, { "content-type": "application/json" })
        const timer = setInterval(() => response.destroyed ? clearInterval(timer) : response.write("\n"), 300)
      })
      const run = yield* chainjobs(["--url", server.url, "--timeout", "2", "kinds"])
      assert.strictEqual(run.code, 1, run.stderr)
      assert.include(run.stderr, `the server at ${server.url} sent no answer within 2 s`)
    })), 180_000)

  it.live("watch bounds each wait, not its total: a silent task is watched again, a server silent on that fails it", () =>
    Effect.scoped(Effect.gen(function*() {
      // the first Watch answers the running record and stays open; the next is never answered
      const server = yield* httpServer((_request, body, response, nth) => {
        if (nth > 1) return
        const requestId = rpcRequest({ body } as any).id
        response.writeHead(200, { "content-type": "application/ndjson" })
        response.write(`${JSON.stringify({ _tag: "Chunk", requestId, values: [running] })}\n`)
      })
      const run = yield* chainjobs(["--url", server.url, "--timeout", "1", "watch", "t-1"])
      assert.strictEqual(run.code, 1, run.stderr)
      assert.include(run.stderr, `the server at ${server.url} sent no next answer within 1 s`)
      assert.strictEqual(server.requests(), 2, "watched again once the task was silent past the limit")
      assert.deepStrictEqual(run.stdout.trim().split("\n"), ["[###########...................]  35% running block 7 of 20"])
    })), 180_000)

  it.live("a bad flag value prints what is wrong and what is allowed, and exits 2, asking nothing of the server", () =>
    Effect.scoped(Effect.gen(function*() {
      const server = yield* silentServer
      const run = yield* chainjobs(["--url", server.url, "list", "--limit", "-1"])
      assert.strictEqual(run.code, 2, run.stderr)
      assert.include(run.stderr, "--limit must be from 1 to 1000, not -1")
      assert.notInclude(run.stderr, "SchemaError")
      const env = yield* chainjobs(["--url", server.url, "status", "t-1"], { CHAINJOBS_TIMEOUT: "-3" })
      assert.strictEqual(env.code, 2, env.stderr)
      assert.include(env.stderr, "--timeout must be from 1 to 86400, not -3")
      // the others in process: the command line's usage error, and the code the executable exits it with
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["list", "--limit", "1001"], "--limit must be from 1 to 1000, not 1001"],
        [["--timeout", "0", "status", "t-1"], "--timeout must be from 1 to 86400, not 0"],
        [["submit", "noop", "--retries", "-2"], "--retries must be from 0 to 1000, not -2"],
        [["submit", "noop", "--timeout-millis", "0"], "--timeout-millis must be at least 1, not 0"],
        [["submit", "noop", "--heartbeat-timeout-millis", "-1"], "--heartbeat-timeout-millis must be at least 1, not -1"],
        [["purge", "--older-than-seconds", "-5"], "--older-than-seconds must be at least 0, not -5"],
        [["list", "--limit", "ten"], "--limit"]
      ]
      for (const [args, said] of cases) {
        const { exit } = yield* runCli(["--url", server.url, ...args])
        let code = -1
        MainExit.teardown(exit, (given) => (code = given))
        assert.strictEqual(code, MainExit.usageExitCode, args.join(" "))
        const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) as { readonly errors?: ReadonlyArray<Error> } : {}
        assert.include((error.errors ?? []).map((one) => one.message).join("\n"), said, args.join(" "))
      }
      assert.strictEqual(server.accepted(), 0, "no bad command line reached the server")
    })), 180_000)
})
