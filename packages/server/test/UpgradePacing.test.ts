import { describe, expect, it, vi } from "@effect/vitest"
import { createServer, type IncomingMessage, type Server } from "node:http"
import { connect, type Socket } from "node:net"
import * as UpgradePacing from "../src/UpgradePacing.ts"

/**
 * Counts the check phases of the event loop: `turn()` is how many have
 * passed. Started before any upgrade, its `setImmediate` runs ahead of the
 * pacing's in every check phase, so the upgrades seen with one value are
 * those between two of the pacing's check phases.
 */
const turns = () => {
  let count = 0
  let immediate: ReturnType<typeof setImmediate> | undefined
  const loop = () => {
    count++
    immediate = setImmediate(loop)
  }
  immediate = setImmediate(loop)
  return { turn: () => count, stop: () => clearImmediate(immediate) }
}

const listening = (server: Server) =>
  new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)))

/** How many upgrades each turn handled, in turn order. */
const perTurn = (seen: ReadonlyArray<number>) => {
  const counts = new Map<number, number>()
  for (const turn of seen) counts.set(turn, (counts.get(turn) ?? 0) + 1)
  return [...counts.values()]
}

/**
 * A server whose upgrade listener notes each upgrade's number (`{ n }`, the request) in `order` and the turn it
 * came in (`clock`'s count) in `seen`.
 */
const numberedUpgrades = () => {
  const server = createServer()
  const clock = turns()
  const seen: Array<number> = []
  const order: Array<number> = []
  server.on("upgrade", (request: { n: number }) => {
    seen.push(clock.turn())
    order.push(request.n)
  })
  return { clock, order, seen, server }
}

describe("UpgradePacing", () => {
  it("lets at most perTurn upgrades through per turn, every one in its order, and drops a socket closed while waiting", async () => {
    const { clock, order, seen, server } = numberedUpgrades()
    const paced = UpgradePacing.pace(server, 8)
    // 40 upgrades in one read of the loop, as clients connecting together arrive; the 30th's client has gone.
    for (let n = 0; n < 40; n++) server.emit("upgrade", { n }, { destroyed: n === 30 }, Buffer.alloc(0))
    expect(paced.waiting()).toBe(32)
    while (paced.waiting() > 0) await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    clock.stop()
    expect(order).toEqual(Array.from({ length: 40 }, (_, n) => n).filter((n) => n !== 30))
    expect(Math.max(...perTurn(seen))).toBeLessThanOrEqual(8)
    expect(perTurn(seen).length).toBeGreaterThanOrEqual(5)
  })

  it("by default lets 2 upgrades through per turn: 10 that arrive together are handled 2 a turn, in their order", async () => {
    const { clock, order, seen, server } = numberedUpgrades()
    const paced = UpgradePacing.pace(server)
    for (let n = 0; n < 10; n++) server.emit("upgrade", { n }, {}, Buffer.alloc(0))
    expect(paced.waiting()).toBe(8)
    while (paced.waiting() > 0) await new Promise((resolve) => setImmediate(resolve))
    clock.stop()
    expect(order).toEqual(Array.from({ length: 10 }, (_, n) => n))
    expect(perTurn(seen)).toEqual([2, 2, 2, 2, 2])
  })

  it("upgrades every one of 48 real connections that ask at once", async () => {
    const server = createServer()
    const clock = turns()
    const seen: Array<number> = []
    server.on("upgrade", (_request: IncomingMessage, socket: Socket) => {
      seen.push(clock.turn())
      socket.end("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
    })
    UpgradePacing.pace(server, 8)
    const port = await listening(server)
    const answers = await Promise.all(Array.from({ length: 48 }, () =>
      new Promise<string>((resolve) => {
        const socket = connect({ host: "127.0.0.1", port }, () =>
          socket.write("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"))
        let text = ""
        socket.setEncoding("latin1")
        socket.on("data", (chunk: string) => text += chunk)
        socket.on("close", () => resolve(text.split("\r\n")[0]))
        socket.on("error", () => resolve("error"))
      })))
    clock.stop()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    expect(answers).toEqual(Array.from({ length: 48 }, () => "HTTP/1.1 101 Switching Protocols"))
    expect(seen.length).toBe(48)
    expect(Math.max(...perTurn(seen))).toBeLessThanOrEqual(8)
  })

  it("closes an upgrade still waiting when its listener has gone", async () => {
    const server = createServer()
    let heard = 0
    const listener = () => heard++
    server.on("upgrade", listener)
    const paced = UpgradePacing.pace(server, 8)
    const closed: Array<number> = []
    for (let n = 0; n < 10; n++) {
      server.emit("upgrade", { n }, { destroyed: false, destroy: () => closed.push(n) }, Buffer.alloc(0))
    }
    server.off("upgrade", listener)
    while (paced.waiting() > 0) await new Promise((resolve) => setImmediate(resolve))
    expect(heard).toBe(8)
    expect(closed).toEqual([8, 9])
  })

  it("passes other events and upgrades with no listener through as Node's own", () => {
    const server = createServer()
    UpgradePacing.pace(server, 8)
    let closed = false
    // No `upgrade` listener: the event goes straight to Node's emit, which reports that nobody heard it.
    expect(server.emit("upgrade", {}, { destroyed: false, destroy: () => closed = true }, Buffer.alloc(0))).toBe(false)
    expect(closed).toBe(false)
    let heard = 0
    server.on("listening-test", () => heard++)
    expect(server.emit("listening-test")).toBe(true)
    expect(heard).toBe(1)
  })

  it("a burst after a drained one gets a whole turn's share at once: the count starts again at the next check phase", async () => {
    const server = createServer()
    let heard = 0
    server.on("upgrade", () => heard++)
    const paced = UpgradePacing.pace(server, 8)
    const burst = (count: number) => {
      for (let n = 0; n < count; n++) server.emit("upgrade", { n }, { destroyed: false }, Buffer.alloc(0))
    }
    // 12: 8 now, 4 in the next check phase, which leaves that phase's count at 4.
    burst(12)
    while (paced.waiting() > 0) await new Promise((resolve) => setImmediate(resolve))
    for (let turn = 0; turn < 3; turn++) await new Promise((resolve) => setImmediate(resolve))
    expect(heard).toBe(12)
    burst(8)
    expect(paced.waiting()).toBe(0)
    expect(heard).toBe(20)
  })

  it("schedules no check phase once a burst has drained: an idle pacing leaves no immediate pending", () => {
    // The check phases are vitest's fake immediates here: each `runOnlyPendingTimers` is one check phase.
    vi.useFakeTimers({ toFake: ["setImmediate", "clearImmediate"] })
    try {
      const server = createServer()
      let heard = 0
      server.on("upgrade", () => heard++)
      const paced = UpgradePacing.pace(server, 8)
      expect(vi.getTimerCount()).toBe(0)
      // 12: 8 now, 4 in the next check phase, then one more check phase that finds none waiting and none handled.
      for (let n = 0; n < 12; n++) server.emit("upgrade", { n }, { destroyed: false }, Buffer.alloc(0))
      expect([heard, paced.waiting(), vi.getTimerCount()]).toEqual([8, 4, 1])
      vi.runOnlyPendingTimers()
      expect([heard, paced.waiting(), vi.getTimerCount()]).toEqual([12, 0, 1])
      vi.runOnlyPendingTimers()
      expect([heard, paced.waiting(), vi.getTimerCount()]).toEqual([12, 0, 0])
    } finally {
      vi.useRealTimers()
    }
  })
})
