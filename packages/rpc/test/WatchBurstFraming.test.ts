/**
 * A burst of changes to the tasks one WebSocket connection watches reaches
 * it in a few messages, not one per watch: each `Watch` stream runs in a
 * fiber of its own, woken in a callback of its own, so the answers of one
 * turn of the event loop are written from many callbacks; the server's
 * writer sends what a connection was written in the turn as one message
 * (`internal/coalescedWriter`). Seen from a raw WebSocket against the
 * server in the test process.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { requestLine, serve } from "./localServer.ts"

/** How many tasks the connection watches. */
const watched = 40

/**
 * One raw connection: submits `watched` gated tasks, watches each, and once
 * every watch has seen its task holding, releases them all at once; resolves
 * with the number of messages that carried the burst (from the release to
 * the last watch's exit), and the watches' last statuses.
 */
const burst = (port: number, gate: string) =>
  Effect.promise(() =>
    new Promise<{ readonly messages: number; readonly statuses: ReadonlyArray<string> }>((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`)
      const send = (lines: ReadonlyArray<string>) => socket.send(lines.join(""))
      const ids = new Map<string, string>()
      const holding = new Set<string>()
      const status = new Map<string, string>()
      let exits = 0
      let released = false
      let messages = 0
      const giveUp = setTimeout(() => {
        socket.close()
        reject(new Error(`gave up after 20 s: ${ids.size} submitted, ${holding.size} holding, ${exits} exited, released ${released}`))
      }, 20_000)
      socket.onopen = () =>
        send(Array.from({ length: watched }, (_, i) => requestLine("Submit", { kind: "gated", payload: { gate } }, `s${i}`)))
      socket.onmessage = (event) => {
        if (released) messages++
        for (const line of String(event.data).split("\n")) {
          if (line === "") continue
          const message = JSON.parse(line)
          const requestId = String(message.requestId)
          if (message._tag === "Exit" && requestId.startsWith("s")) {
            ids.set(requestId, message.exit.value.id)
            if (ids.size === watched) send([...ids.values()].map((id, i) => requestLine("Watch", { id }, `w${i}`)))
          } else if (message._tag === "Chunk" && requestId.startsWith("w")) {
            send([`${JSON.stringify({ _tag: "Ack", requestId })}\n`])
            for (const info of message.values) {
              status.set(requestId, info.status)
              if (info.status === "running" && info.progress === 50) holding.add(requestId)
            }
            if (holding.size === watched && !released) {
              released = true
              send([requestLine("Submit", { kind: "release", payload: { gate } }, "release")])
            }
          } else if (message._tag === "Exit" && requestId.startsWith("w") && ++exits === watched) {
            clearTimeout(giveUp)
            socket.close()
            resolve({ messages, statuses: [...status.values()] })
          }
        }
      }
      socket.onerror = () => reject(new Error("the socket failed"))
    })
  )

describe("a burst over one WebSocket", () => {
  it.live(`the changes of ${watched} watched tasks finishing together arrive in a few messages, not one per watch`, () =>
    Effect.scoped(Effect.gen(function*() {
      const port = yield* serve({})
      const { messages, statuses } = yield* burst(port, `burst-${Math.random()}`)
      assert.deepStrictEqual(statuses, Array(watched).fill("completed"))
      // Each watch's terminal record and exit are written by its own fiber: without coalescing per turn, a message each.
      assert.isAtMost(messages, watched / 4, `${messages} messages carried the burst of ${watched} watches`)
    })))
})
