/**
 * Loaded into the service by `bench/load.ts` (`node --import`): times, inside
 * the service, each status read the probe sends on a new connection (marked
 * `x-load-probe: new`), from Node's diagnostics channels — `accept`, the
 * connection handed to JavaScript (`net.server.socket`); `request`, its
 * request parsed (`http.server.request.start`); `finish`, the response
 * written (`http.server.response.finish`). Every 10 s it prints one line,
 * `load-trace {…}`, with the interval's `acceptToRequest` and
 * `requestToFinish` in ms. The probe's own first-byte time less these two is
 * what the connection waited before the service accepted it (the kernel's
 * queue, while the event loop ran other work).
 */
import { subscribe } from "node:diagnostics_channel"
import type { IncomingMessage } from "node:http"
import type { Socket } from "node:net"

const accepted = new WeakMap<Socket, number>()
const started = new WeakMap<IncomingMessage, number>()
let samples = { acceptToRequest: [] as Array<number>, requestToFinish: [] as Array<number> }

subscribe("net.server.socket", (message) => {
  accepted.set((message as { socket: Socket }).socket, performance.now())
})
subscribe("http.server.request.start", (message) => {
  const { request, socket } = message as { request: IncomingMessage; socket: Socket }
  if (request.headers["x-load-probe"] !== "new") return
  const now = performance.now()
  started.set(request, now)
  const at = accepted.get(socket)
  if (at !== undefined) samples.acceptToRequest.push(now - at)
})
subscribe("http.server.response.finish", (message) => {
  const at = started.get((message as { request: IncomingMessage }).request)
  if (at !== undefined) samples.requestToFinish.push(performance.now() - at)
})

setInterval(() => {
  process.stdout.write(`load-trace ${JSON.stringify(samples)}\n`)
  samples = { acceptToRequest: [], requestToFinish: [] }
}, 10_000).unref()
