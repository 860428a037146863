/**
 * How the RPC server frames its answers over WebSocket, seen from a raw
 * socket against the server in a child process: the answers of one turn
 * arrive as one message of ndjson lines, and a refusal's close comes after
 * the answers written before it, with the refusal's code.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect } from "effect"
import { ServerProcess } from "./ServerProcess.ts"

const line = (message: object) => `${JSON.stringify(message)}\n`

/** What a raw WebSocket received until the server closed it, or until it had `lines` answer lines. */
const exchange = (port: number, text: string, lines: number) =>
  Effect.promise(() =>
    new Promise<{ readonly messages: Array<string>; readonly code?: number; readonly reason?: string }>((resolve) => {
      const messages: Array<string> = []
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`)
      const count = () => messages.join("").split("\n").filter((l) => l !== "").length
      socket.onopen = () => socket.send(text)
      socket.onmessage = (event) => {
        messages.push(String(event.data))
        if (count() >= lines) {
          socket.onclose = null
          socket.close()
          resolve({ messages })
        }
      }
      socket.onclose = (event) => resolve({ messages, code: event.code, reason: event.reason })
    })
  )

describe("WebSocket framing", () => {
  layer(ServerProcess.layer, { excludeTestServices: true, timeout: "30 seconds" })("server in a child process", (it) => {
    it.effect("the answers written in one turn arrive as one message of ndjson lines", () =>
      Effect.gen(function*() {
        const server = yield* ServerProcess
        const pings = line({ _tag: "Ping" }).repeat(50)
        const { messages } = yield* exchange(server.port, pings, 50)
        const answers = messages.flatMap((message) => message.split("\n").filter((l) => l !== ""))
        assert.deepStrictEqual(answers, Array(50).fill(JSON.stringify({ _tag: "Pong" })))
        // Fifty answers to one message, written in the turn that read it: a message or two back, not fifty.
        assert.isBelow(messages.length, 5)
      }))

    it.effect("a refusal closes the socket after the answers written before it, with the refusal's code", () =>
      Effect.gen(function*() {
        const server = yield* ServerProcess
        const outcome = yield* exchange(server.port, `${line({ _tag: "Ping" }).repeat(3)}{oops\n`, Infinity)
        assert.strictEqual(outcome.messages.join(""), line({ _tag: "Pong" }).repeat(3))
        assert.strictEqual(outcome.code, 1007)
        assert.include(outcome.reason, "MalformedRequest")
      }))
  })
})
