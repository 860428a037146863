/**
 * The coalescing socket writer on its own, over a writer that records what
 * reaches the socket: lines written in one turn reach it as one message, in
 * order; a close, or a `writeAll`, reaches it after the lines written before
 * it, at once; the `"microtask"` rule (`bench/fanout.ts`' baseline) sends
 * them when the writing callback's microtasks have run.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { Socket } from "effect/socket"
import * as CoalescedWriter from "../src/internal/coalescedWriter.ts"

/** A writer that records every frame it is asked to send, and the socket around it. */
const recording = () => {
  const sent: Array<string | number> = []
  const writer: Socket.Writer = {
    write: (chunk) =>
      Effect.sync(() => {
        sent.push(Socket.isCloseEvent(chunk) ? chunk.code : typeof chunk === "string" ? chunk : "bytes")
      }),
    writeAll: (chunks) => Effect.sync(() => chunks.forEach((chunk) => sent.push(typeof chunk === "string" ? chunk : "bytes")))
  }
  const socket = CoalescedWriter.socket(Socket.make({ reader: Effect.never, writer: Effect.succeed(writer) }))
  return { sent, socket }
}

/** Lets the current turn's microtasks run. */
const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

describe("CoalescedWriter", () => {
  it.effect.prop("the lines written in one turn reach the socket as one message, in order", [Schema.NonEmptyArray(Schema.String)], ([lines]) =>
    Effect.gen(function*() {
      const { sent, socket } = recording()
      const writer = yield* socket.writer
      for (const text of lines) yield* writer.write(`${text}\n`)
      assert.deepStrictEqual(sent, [], "nothing is sent before the turn ends")
      yield* nextTurn
      assert.deepStrictEqual(sent, [lines.map((text) => `${text}\n`).join("")])
      // The next turn's lines make a message of their own.
      yield* writer.write("later\n")
      yield* nextTurn
      assert.deepStrictEqual(sent.slice(1), ["later\n"])
    }))

  it.effect("a close sends the lines written before it, then closes, without waiting for the turn to end", () =>
    Effect.gen(function*() {
      const { sent, socket } = recording()
      // The server and the door each take the socket's writer: both go through one queue.
      const answers = yield* socket.writer
      const door = yield* socket.writer
      yield* answers.write("a\n")
      yield* answers.write("b\n")
      yield* door.write(new Socket.CloseEvent(1008, "refused"))
      assert.deepStrictEqual(sent, ["a\nb\n", 1008])
      yield* nextTurn
      assert.deepStrictEqual(sent, ["a\nb\n", 1008], "nothing is sent twice")
    }))

  it.effect("the microtask rule sends the lines written in one callback as one message once its microtasks have run", () =>
    Effect.gen(function*() {
      const sent: Array<string> = []
      const writer = CoalescedWriter.make("microtask")({
        write: (chunk) => Effect.sync(() => void sent.push(typeof chunk === "string" ? chunk : "other")),
        writeAll: () => Effect.void
      })
      yield* writer.write("a\n")
      yield* writer.write("b\n")
      assert.deepStrictEqual(sent, [], "nothing is sent before the microtasks run")
      yield* Effect.promise(() => Promise.resolve())
      assert.deepStrictEqual(sent, ["a\nb\n"])
    }))

  it.effect("writeAll sends the lines queued before it first, then its chunks, at once", () =>
    Effect.gen(function*() {
      const { sent, socket } = recording()
      const writer = yield* socket.writer
      yield* writer.write("a\n")
      yield* writer.writeAll(["b\n", new Uint8Array([1])])
      assert.deepStrictEqual(sent, ["a\n", "b\n", "bytes"])
      yield* nextTurn
      assert.deepStrictEqual(sent, ["a\n", "b\n", "bytes"], "nothing is sent twice")
    }))
})
