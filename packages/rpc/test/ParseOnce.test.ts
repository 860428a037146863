/**
 * A request line that comes over WebSocket is parsed once: the door parses it
 * to check it and hands the protocol the message it parsed (before, the
 * protocol parsed the same text again). Seen on a real server in this
 * process, over a real WebSocket, by counting the parses of the request's
 * text.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { overWebsocket, requestLine, serve } from "./localServer.ts"

describe("a WebSocket request line", () => {
  it.live("is parsed once on the server, and answered", () =>
    Effect.gen(function*() {
      const port = yield* serve({})
      const id = `parse-once-${Math.random().toString(36).slice(2)}`
      const line = requestLine("Get", { id })
      const parse = JSON.parse
      let parses = 0
      const counting: typeof JSON.parse = (text, reviver) => {
        if (typeof text === "string" && text.startsWith(`{"_tag":"Request"`) && text.includes(id)) parses++
        return parse(text, reviver)
      }
      JSON.parse = counting
      const exchange = yield* Effect.ensuring(overWebsocket(port, [line], 1), Effect.sync(() => {
        JSON.parse = parse
      }))
      assert.strictEqual(exchange.answers[0]._tag, "Exit")
      assert.deepStrictEqual(exchange.answers[0].exit.cause, [{ _tag: "Fail", error: { _tag: "TaskNotFound", id } }])
      assert.strictEqual(parses, 1)
    }).pipe(Effect.scoped))
})
