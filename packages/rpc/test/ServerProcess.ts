/**
 * Test resources for the cross-process tests: the RPC server of `server.ts`
 * running in a child process under the pinned Node, and a TCP proxy in front
 * of it whose connections a test can cut to simulate a dropped network.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { Context, Duration, Effect, Layer, type Scope } from "effect"

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
const entry = fileURLToPath(new URL("./server.ts", import.meta.url))

/** The server child process: its port, and the lines it printed. */
export class ServerProcess extends Context.Service<ServerProcess, {
  readonly port: number
  /** Waits until the server has printed `line`. */
  waitForLine(line: string): Effect.Effect<void>
}>()("@chainjobs/rpc/test/ServerProcess") {
  static readonly layer = Layer.effect(
    ServerProcess,
    Effect.gen(function*() {
      const lines: Array<string> = []
      const waiters = new Set<() => void>()
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(`${repoRoot}node_modules/.bin/node`, [entry], { cwd: repoRoot, stdio: ["pipe", "pipe", "inherit"] })
        ),
        stop
      )
      createInterface({ input: child.stdout! }).on("line", (line) => {
        lines.push(line)
        for (const wake of waiters) wake()
      })
      const waitFor = <A>(find: () => A | undefined) =>
        Effect.callback<A>((resume) => {
          const check = () => {
            const found = find()
            if (found === undefined) return
            waiters.delete(check)
            resume(Effect.succeed(found))
          }
          waiters.add(check)
          check()
          return Effect.sync(() => waiters.delete(check))
        })
      const listening = yield* waitFor(() => lines.find((line) => line.startsWith("listening ")))
      return ServerProcess.of({
        port: Number(listening.split(" ")[1]),
        waitForLine: (line) => Effect.asVoid(waitFor(() => (lines.includes(line) ? true : undefined)))
      })
    })
  )
}

/** Ends the child by closing its stdin (it stops by itself), killing it if it lingers. */
const stop = (child: ChildProcess) =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000)
    child.once("exit", () => {
      clearTimeout(timer)
      resume(Effect.void)
    })
    child.stdin?.end()
  })

/** A TCP proxy to a local port. */
export interface Proxy {
  readonly port: number
  /** How many connections it has accepted. */
  readonly connections: () => number
  /** Cuts every open connection (the listener stays up). */
  readonly sever: () => void
  /**
   * Waits until a connection after the first `skip` has carried `text` from
   * the server to its client (what a reconnected client was sent), failing
   * after `within` with what each connection carried.
   */
  readonly carried: (text: string, skip: number, within: Duration.Input) => Effect.Effect<void, string>
}

/** Starts a TCP proxy to `127.0.0.1:target` in the current scope. */
export const proxy = (target: number): Effect.Effect<Proxy, never, Scope.Scope> =>
  Effect.gen(function*() {
    const open = new Set<net.Socket>()
    let accepted = 0
    /** What the server sent on each connection, in order of acceptance. */
    const replies: Array<string> = []
    const listeners = new Set<() => void>()
    const server = net.createServer((socket) => {
      accepted++
      const connection = replies.push("") - 1
      const upstream = net.connect(target, "127.0.0.1")
      upstream.on("data", (chunk: Buffer) => {
        replies[connection] += chunk.toString("latin1")
        for (const listener of listeners) listener()
      })
      for (const [from, to] of [[socket, upstream], [upstream, socket]] as const) {
        open.add(from)
        from.pipe(to)
        from.on("error", () => to.destroy())
        from.on("close", () => {
          open.delete(from)
          to.destroy()
        })
      }
    })
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => {
        server.listen(0, "127.0.0.1", () => resume(Effect.void))
      }),
      () =>
        Effect.callback<void>((resume) => {
          for (const socket of open) socket.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    const address = server.address() as net.AddressInfo
    return {
      port: address.port,
      connections: () => accepted,
      sever: () => {
        for (const socket of open) socket.destroy()
      },
      carried: (text, skip, within) =>
        Effect.callback<void>((resume) => {
          const check = () => {
            if (!replies.slice(skip).some((reply) => reply.includes(text))) return
            listeners.delete(check)
            resume(Effect.void)
          }
          listeners.add(check)
          check()
          return Effect.sync(() => listeners.delete(check))
        }).pipe(
          Effect.timeoutOrElse({
            duration: within,
            orElse: () =>
              Effect.fail(
                `no connection after the first ${skip} carried ${JSON.stringify(text)} within ${Duration.format(Duration.fromInputUnsafe(within))}; ` +
                  `${accepted} accepted, bytes sent back on each: ${replies.map((reply) => reply.length).join(", ")}`
              )
          })
        )
    }
  })
