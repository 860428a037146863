/**
 * `internal/unsentLimit`'s bound at its edge, over a writer that records what
 * reaches the socket and an unsent count the test sets: a send made with
 * exactly `maxUnsentBytes` waiting goes out (the limit is the most the server
 * holds for a client, as `TaskRpcServer`'s `maxUnsentBytes` documents: "past
 * it the socket is closed"); one byte more closes the socket with 1013 and
 * `SlowReader` instead, and every later send is dropped. The close of a real
 * slow reader is `WebsocketSlowReader`'s.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Socket } from "effect/socket"
import * as UnsentLimit from "../src/internal/unsentLimit.ts"
import { SlowReader } from "../src/TaskRpcError.ts"

/** A writer that records every frame it is asked to send (a close as its code and reason), bounded at `limit` bytes of `unsent`. */
const recording = (limit: number) => {
  const sent: Array<string> = []
  const state = { unsent: 0 }
  const writer: Socket.Writer = {
    write: (chunk) =>
      Effect.sync(() => {
        sent.push(Socket.isCloseEvent(chunk) ? `close ${chunk.code} ${chunk.reason}` : String(chunk))
      }),
    writeAll: (chunks) => Effect.sync(() => chunks.forEach((chunk) => sent.push(String(chunk))))
  }
  return { sent, state, bounded: UnsentLimit.bound(writer, () => state.unsent, limit) }
}

describe("UnsentLimit.bound at its edge", () => {
  it.effect("a send with exactly the limit unsent goes out; one byte more closes with 1013 and SlowReader, and nothing is sent after", () =>
    Effect.gen(function*() {
      const { bounded, sent, state } = recording(1000)
      state.unsent = 1000
      yield* bounded.write("at the limit\n")
      yield* bounded.writeAll(["all at", " the limit\n"])
      assert.deepStrictEqual(sent, ["at the limit\n", "all at", " the limit\n"])
      state.unsent = 1001
      yield* bounded.write("past it\n")
      assert.deepStrictEqual(sent.slice(3), [
        "close 1013 SlowReader: 1001 bytes were waiting for this client (limit 1000); reconnect and resume"
      ])
      // closed: later sends are dropped, though the bytes waiting fell below the limit again
      state.unsent = 0
      yield* bounded.write("after\n")
      yield* bounded.writeAll(["after all\n"])
      assert.strictEqual(sent.length, 4)
    }))

  it.effect("a writeAll with one byte past the limit unsent closes the socket instead", () =>
    Effect.gen(function*() {
      const { bounded, sent, state } = recording(0)
      state.unsent = 1
      yield* bounded.writeAll(["past it\n"])
      assert.deepStrictEqual(sent, ["close 1013 SlowReader: 1 bytes were waiting for this client (limit 0); reconnect and resume"])
    }))

  it.effect.prop("a send goes out while the bytes unsent are at most the limit, and closes the socket once they are over it", {
    limit: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 1 << 30 })),
    over: Schema.Int.check(Schema.isBetween({ minimum: -1000, maximum: 1000 }))
  }, ({ limit, over }) =>
    Effect.gen(function*() {
      const { bounded, sent, state } = recording(limit)
      state.unsent = Math.max(0, limit + over)
      yield* bounded.write("line\n")
      const closed = `close 1013 ${UnsentLimit.closeReason(new SlowReader({ unsentBytes: state.unsent, limit }))}`
      assert.deepStrictEqual(sent, [state.unsent <= limit ? "line\n" : closed])
    }))
})
