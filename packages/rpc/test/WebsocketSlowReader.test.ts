/**
 * A WebSocket client that stops reading but goes on acknowledging — the
 * `Ack` names a request id the client chose, so it needs nothing it has not
 * read — no longer has the server queue every answer for it: once more than
 * `maxUnsentBytes` wait unsent in the connection's socket, the server closes
 * it with code 1013 and `SlowReader` as the reason, and sends nothing after.
 * A real server in this process, a raw client on a `node:net` socket that
 * pauses its reading (the kernel's buffers fill, then the server's own).
 */
import * as Net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { overHttp, requestLine, serve } from "./localServer.ts"

/** What the client read once it read again: the answer lines, and the close frame's code and reason, if one came. */
interface Read {
  readonly lines: Array<any>
  close?: { readonly code: number; readonly reason: string }
}

/** A masked client frame of `opcode` carrying `text`. */
const clientFrame = (opcode: number, text: string): Buffer => {
  const payload = Buffer.from(text)
  const head = payload.length < 126 ? 2 : 4
  const out = Buffer.alloc(head + 4 + payload.length)
  out[0] = 0x80 | opcode
  if (payload.length < 126) out[1] = 0x80 | payload.length
  else {
    out[1] = 0x80 | 126
    out.writeUInt16BE(payload.length, 2)
  }
  // A zero mask: the payload goes as it is.
  return out.fill(0, head, head + 4).fill(payload, head + 4)
}

/**
 * A raw WebSocket on `port` that sends `WatchChanges` and then acknowledges it
 * every few milliseconds without reading; `read` resumes reading and resolves
 * with what came, at the close frame or at the line `until` accepts.
 */
const blindReader = (port: number) =>
  new Promise<{ readonly read: (until: (line: any) => boolean) => Promise<Read>; readonly destroy: () => void }>(
    (opened, failed) => {
      const socket = Net.connect(port, "127.0.0.1")
      let acks: ReturnType<typeof setInterval> | undefined
      let buffer = Buffer.alloc(0)

      socket.once("error", failed)
      socket.on("connect", () =>
        socket.write(
          "GET /ws HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\nconnection: Upgrade\r\n" +
            "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
        ))
      const onHead = (chunk: Buffer) => {
        buffer = Buffer.concat([buffer, chunk])
        const end = buffer.indexOf("\r\n\r\n")
        if (end === -1) return
        socket.off("data", onHead)
        if (!buffer.subarray(0, end).toString().startsWith("HTTP/1.1 101")) return failed(new Error("not upgraded"))
        buffer = buffer.subarray(end + 4)

        socket.pause()
        socket.write(clientFrame(1, requestLine("WatchChanges", {}, "1")))
        acks = setInterval(() => socket.write(clientFrame(1, `{"_tag":"Ack","requestId":"1"}\n`)), 5)
        opened({
          read: (until) =>
            new Promise((done) => {
              const result: Read = { lines: [] }
              let text = ""
              const finish = () => {
                socket.off("data", onData)
                done(result)
              }
              const onData = (chunk: Buffer) => {
                buffer = Buffer.concat([buffer, chunk])
                while (buffer.length >= 2) {
                  let length = buffer[1] & 0x7f
                  let at = 2
                  if (length === 126) [length, at] = buffer.length < 4 ? [Infinity, 4] : [buffer.readUInt16BE(2), 4]
                  else if (length === 127) [length, at] = buffer.length < 10 ? [Infinity, 10] : [Number(buffer.readBigUInt64BE(2)), 10]
                  if (buffer.length < at + length) return
                  const opcode = buffer[0] & 0x0f
                  const payload = buffer.subarray(at, at + length)
                  buffer = buffer.subarray(at + length)
                  if (opcode === 8) {
                    result.close = { code: payload.readUInt16BE(0), reason: payload.subarray(2).toString() }
                    return finish()
                  }
                  text += payload.toString()
                  let cut: number
                  while ((cut = text.indexOf("\n")) !== -1) {
                    const line = JSON.parse(text.slice(0, cut))
                    text = text.slice(cut + 1)
                    result.lines.push(line)
                    if (until(line)) return finish()
                  }
                }
              }
              clearInterval(acks)
              socket.on("data", onData)
              socket.on("close", finish)
              socket.resume()
              onData(Buffer.alloc(0))
            }),
          destroy: () => {
            clearInterval(acks)
            socket.destroy()
          }
        })
      }
      socket.on("data", onHead)
    }
  )

/** A `fail` task whose records are large: its payload and its error message each `size` characters. */
const large = (size: number, tag: string, id: string) => requestLine("Run", { kind: "fail", payload: { message: `${tag}:${"x".repeat(size)}` } }, id)

describe("a WebSocket client that acknowledges without reading", () => {
  it.live("is closed with 1013 and SlowReader once its unsent bytes pass the limit, and sent nothing after", () =>
    Effect.gen(function*() {
      const limit = 256 * 1024
      const port = yield* serve({}, { maxUnsentBytes: limit })
      const client = yield* Effect.promise(() => blindReader(port))
      yield* Effect.addFinalizer(() => Effect.sync(client.destroy))
      // 60 tasks of three ~100 kB changes each: ~18 MB, past the kernel's buffers (a few MB) and the limit.
      for (let i = 0; i < 60; i++) yield* overHttp(port, large(48 * 1024, "push", `p${i}`))
      // Then a marker: published after every push, it reaches a reader that was never closed.
      yield* overHttp(port, large(10, "marker", "m"))
      const read = yield* Effect.promise(() =>
        client.read((line) =>
          line._tag === "Chunk" && line.values.some((value: any) => String(value.event?.payload?.message).startsWith("marker:"))
        )
      )
      assert.isDefined(read.close, "the reader was never closed: it got every change, the marker's too")
      assert.strictEqual(read.close!.code, 1013)
      assert.match(read.close!.reason, /^SlowReader: \d+ bytes were waiting for this client \(limit 262144\); reconnect and resume$/)
      // What came before the close is whole answers of the call, every one a chunk of changes.
      assert.isAbove(read.lines.length, 0)
      for (const line of read.lines) assert.strictEqual(line._tag, "Chunk")
    }).pipe(Effect.scoped))
})
