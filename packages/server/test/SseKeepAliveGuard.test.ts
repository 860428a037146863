/**
 * When a kept-alive event stream gets no comment (`SseKeepAlive`), on real
 * Node responses over a real socket, the shared timer's ticks run by vitest's
 * fake `setInterval`: a response whose head is not written yet (a comment
 * would send a default head before the stream's own), one that has ended but
 * not yet closed (a write after the end is an error), and one whose writes
 * already wait for a client that does not read (it is not idle), and one
 * written to since the last tick (it is not silent). A response that is
 * none of these gets its comment at each tick.
 */
import { afterEach, assert, beforeEach, describe, it, vi } from "@effect/vitest"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as SseKeepAlive from "../src/SseKeepAlive.ts"

/** A server on 127.0.0.1 and one request to it, left unread by the client: the server's response to it, and a way to stop. */
const openResponse = async () => {
  let handed: (response: Http.ServerResponse) => void = () => {}
  const response = new Promise<Http.ServerResponse>((resolve) => (handed = resolve))
  const server = Http.createServer((_request, response) => handed(response))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  const request = Http.request({ host: "127.0.0.1", port, path: "/events" })
  request.on("error", () => {})
  request.end()
  const stop = () =>
    new Promise<void>((resolve) => {
      request.destroy()
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return { response: await response, stop }
}

/** The chunks written to `response` from now on (each still written). */
const writesTo = (response: Http.ServerResponse): Array<string> => {
  const chunks: Array<string> = []
  const write = response.write.bind(response) as (chunk: unknown) => boolean
  response.write = ((chunk: unknown) => {
    chunks.push(Buffer.from(chunk as Uint8Array).toString())
    return write(chunk)
  }) as typeof response.write
  return chunks
}

/** One tick of the shared keep-alive timer. */
const tick = () => vi.advanceTimersByTime(SseKeepAlive.keepAliveMillis)

describe("SseKeepAlive's tick", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it("writes nothing to a response whose head is not written yet, and comments once it is", async () => {
    const { response, stop } = await openResponse()
    try {
      assert.isFalse(SseKeepAlive.stats().ticking, "no stream was open before")
      const written = writesTo(response)
      SseKeepAlive.follow(response)
      // Two ticks: the second finds the response silent since the first, which only looked at it.
      tick()
      tick()
      assert.isFalse(response.headersSent, "a comment sent a head before the stream's own")
      assert.deepStrictEqual(written, [])
      response.writeHead(200, { "content-type": "text/event-stream" })
      response.flushHeaders()
      tick()
      assert.deepStrictEqual(written, [], "the head was written since the last tick: not silent")
      tick()
      tick()
      assert.deepStrictEqual(written, [": keep-alive\n\n", ": keep-alive\n\n"])
    } finally {
      await stop()
    }
  })

  it("writes nothing to a stream written to between two ticks, and comments once it has been silent a whole interval", async () => {
    const { response, stop } = await openResponse()
    try {
      response.writeHead(200, { "content-type": "text/event-stream" })
      response.write("data: 0\n\n")
      SseKeepAlive.follow(response)
      const written = writesTo(response)
      // Opened since the last tick, then an event in each interval: never silent for a whole one.
      for (let i = 1; i <= 4; i++) {
        tick()
        response.write(`data: ${i}\n\n`)
      }
      assert.deepStrictEqual(written, ["data: 1\n\n", "data: 2\n\n", "data: 3\n\n", "data: 4\n\n"])
      tick()
      assert.deepStrictEqual(written.slice(4), [], "written to since the last tick")
      tick()
      assert.deepStrictEqual(written.slice(4), [": keep-alive\n\n"], "silent since the last tick")
    } finally {
      await stop()
    }
  })

  it("writes nothing to a response that has ended but not yet closed", async () => {
    const { response, stop } = await openResponse()
    const errors: Array<Error> = []
    response.on("error", (error) => void errors.push(error))
    try {
      SseKeepAlive.follow(response)
      response.writeHead(200, { "content-type": "text/event-stream" })
      response.end("event: x\ndata: 1\n\n")
      assert.isTrue(response.writableEnded)
      const written = writesTo(response)
      tick()
      assert.deepStrictEqual(written, [])
      // a write after the end is reported on the next turn
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepStrictEqual(errors.map((error) => error.message), [])
    } finally {
      await stop()
    }
  })

  it("writes nothing to a response whose writes wait for a client that does not read", async () => {
    const { response, stop } = await openResponse()
    try {
      SseKeepAlive.follow(response)
      response.writeHead(200, { "content-type": "text/event-stream" })
      const event = Buffer.alloc(64 * 1024, "a")
      while (response.write(event)) {
        // until the socket's buffers are full and the response waits for a drain
      }
      assert.isTrue(response.writableNeedDrain)
      const written = writesTo(response)
      tick()
      assert.deepStrictEqual(written, [])
    } finally {
      await stop()
    }
  })

  it("does not follow a response that has already ended or closed: no entry left behind, no timer", async () => {
    const { response, stop } = await openResponse()
    try {
      response.writeHead(200, { "content-type": "text/event-stream" })
      response.end()
      SseKeepAlive.follow(response)
      assert.deepStrictEqual(SseKeepAlive.stats(), { streams: 0, ticking: false })
      await new Promise((resolve) => response.once("close", resolve))
      SseKeepAlive.follow(response)
      assert.deepStrictEqual(SseKeepAlive.stats(), { streams: 0, ticking: false })
    } finally {
      await stop()
    }
  })

  it("keeps one timer for every open stream, and stops it once the last of them closes", async () => {
    const first = await openResponse()
    const second = await openResponse()
    const closed = (response: Http.ServerResponse) => new Promise((resolve) => response.once("close", resolve))
    try {
      SseKeepAlive.follow(first.response)
      SseKeepAlive.follow(second.response)
      assert.deepStrictEqual(SseKeepAlive.stats(), { streams: 2, ticking: true })
      assert.strictEqual(vi.getTimerCount(), 1, "one timer for both streams")
      const firstClosed = closed(first.response)
      await first.stop()
      await firstClosed
      assert.deepStrictEqual(SseKeepAlive.stats(), { streams: 1, ticking: true }, "the other stream is still open")
      assert.strictEqual(vi.getTimerCount(), 1)
      const secondClosed = closed(second.response)
      await second.stop()
      await secondClosed
      assert.deepStrictEqual(SseKeepAlive.stats(), { streams: 0, ticking: false })
      assert.strictEqual(vi.getTimerCount(), 0, "the timer was left running with no stream open")
    } finally {
      await first.stop()
      await second.stop()
    }
  })
})
