import { assert, describe, it, layer } from "@effect/vitest"
import { execFileSync, spawn } from "node:child_process"
import { connect } from "node:net"
import { Effect, Schedule } from "effect"
import * as DevChain from "../src/DevChain.ts"
import { nodeBoundMillis } from "./nodeBound.ts"

const rpc = (url: string, method: string, params: Array<unknown> = []) =>
  Effect.tryPromise(() =>
    fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params })
    }).then((response) => response.json() as Promise<{ readonly result: unknown }>)
  )

layer(DevChain.layer(), { excludeTestServices: true, timeout: nodeBoundMillis })("DevChain.layer", (it) => {
  it.effect("answers JSON-RPC on 127.0.0.1 with the derived dev accounts", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      assert.match(chain.url, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.strictEqual(Number((yield* rpc(chain.url, "eth_chainId")).result), chain.chainId)
      assert.deepStrictEqual(
        (yield* rpc(chain.url, "eth_accounts")).result,
        chain.accounts.map((account) => account.address.toLowerCase())
      )
    }))

  // Linux routes all of 127.0.0.0/8 to the loopback interface; other systems may not answer 127.0.0.2 at all
  it.effect.skipIf(process.platform !== "linux")("listens on 127.0.0.1 alone: its port on another loopback address (127.0.0.2) refuses a connection", () =>
    Effect.gen(function*() {
      const chain = yield* DevChain.DevChain
      const code = yield* Effect.callback<string>((resume) => {
        const socket = connect({ host: "127.0.0.2", port: chain.port })
        socket.once("connect", () => {
          socket.destroy()
          resume(Effect.succeed("connected"))
        })
        socket.once("error", (error: NodeJS.ErrnoException) => resume(Effect.succeed(error.code ?? error.message)))
      })
      assert.strictEqual(code, "ECONNREFUSED")
    }))
})

describe("DevChain.make", () => {
  it.live("stops the node when its scope closes", () =>
    Effect.gen(function*() {
      const url = yield* Effect.scoped(Effect.map(DevChain.make(), (chain) => chain.url))
      const refused = yield* Effect.flip(rpc(url, "eth_chainId"))
      assert.strictEqual(refused._tag, "UnknownError")
    }), nodeBoundMillis)
})

/** The pids of processes whose command line contains the text. */
const pidsWith = (text: string) =>
  execFileSync("ps", ["-eo", "pid=,args="]).toString().split("\n")
    .filter((line) => line.includes(text) && !line.includes("ps -eo"))
    .map((line) => Number(line.trim().split(" ")[0]))

describe("DevChain.make, its parent killed", () => {
  it.live("the node exits when the process that started it dies without closing its scope", () =>
    Effect.gen(function*() {
      const parent = spawn(process.execPath, [new URL("./programs/devChainThenHang.ts", import.meta.url).pathname], {
        stdio: ["ignore", "pipe", "inherit"]
      })
      const url = yield* Effect.callback<string>((resume) => {
        parent.stdout.once("data", (chunk) => resume(Effect.succeed(String(chunk).trim())))
      })
      assert.strictEqual(Number((yield* rpc(url, "eth_chainId")).result), DevChain.chainId)
      parent.kill("SIGKILL")
      const port = new URL(url).port
      const gone = yield* rpc(url, "eth_chainId").pipe(
        Effect.flip,
        Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 30 }),
        Effect.as(true),
        Effect.orElseSucceed(() => false)
      )
      // never leave an orphan behind, even when the test fails
      for (const pid of pidsWith(`--port ${port}`)) process.kill(pid, "SIGKILL")
      assert.isTrue(gone, "the node still answers after its parent died")
    }), nodeBoundMillis)
})
