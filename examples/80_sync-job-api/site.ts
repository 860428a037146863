/**
 * The example's web side: the chainjobs service as a child process (the
 * `chainjobs serve` command, on the example's chain), and a small site that
 * serves the sync page, `@chainjobs/client` as a browser module (its types
 * stripped, nothing bundled) and the service's `/api` under the same origin.
 */
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { createServer, type Server } from "node:http"
import { stripTypeScriptTypes } from "node:module"
import type { AddressInfo } from "node:net"
import { Readable } from "node:stream"
import { fileURLToPath } from "node:url"

/** The Transfer event of the seeded ERC-20. */
export const transferEvent = "event Transfer(address indexed from, address indexed to, uint256 value)"

/** A running service: its base URL, and how to stop it (SIGTERM; resolves once it has exited). */
export interface Service {
  readonly baseUrl: string
  readonly stop: () => Promise<number | null>
}

/** Starts `chainjobs serve` on a free port, in memory, with the chain `dev` at `chainUrl`; resolves once it listens. */
export const startService = (chainUrl: string): Promise<Service> =>
  new Promise((resolve, reject) => {
    const main = fileURLToPath(new URL("./main.ts", import.meta.resolve("@chainjobs/server")))
    const child = spawn(process.execPath, [main, "serve"], {
      env: {
        ...process.env,
        CHAINJOBS_PORT: "0",
        CHAINJOBS_DATA_DIR: ":memory:",
        CHAINJOBS_CHAINS: JSON.stringify([{ name: "dev", chainId: 31337, endpoints: [{ url: chainUrl }], headTtlMillis: 0 }]),
        CHAINJOBS_LOG_LEVEL: "warn",
        CHAINJOBS_SHUTDOWN_GRACE: "1 second"
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)))
    child.once("exit", (code) => reject(new Error(`the service exited (${code}) before listening:\n${output}`)))
    child.stderr.on("data", (chunk) => (output += chunk))
    child.stdout.on("data", (chunk) => {
      output += chunk
      const listening = /chainjobs is listening on (http:\/\/\S+)/.exec(output)
      if (listening !== null) {
        resolve({
          baseUrl: listening[1],
          stop: () => {
            child.kill("SIGTERM")
            return exited
          }
        })
      }
    })
  })

/** `@chainjobs/client`'s browser module: its one source file without its types. */
const clientModule = () =>
  stripTypeScriptTypes(readFileSync(fileURLToPath(new URL("./ChainjobsClient.ts", import.meta.resolve("@chainjobs/client"))), "utf8"))

/** A running site: its URL, and how to close it. */
export interface Site {
  readonly url: string
  readonly close: () => Promise<void>
}

/** Serves the page at `/`, the client at `/client.js`, what the page syncs at `/config.json`, and `/api/*` from the service. */
export const startSite = (service: Service, config: { readonly chain: string; readonly address: string }): Promise<Site> => {
  const page = readFileSync(new URL("./page.html", import.meta.url), "utf8")
  const client = clientModule()
  const server: Server = createServer(async (request, response) => {
    const path = (request.url ?? "/").split("?")[0]
    if (path === "/") return response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(page)
    if (path === "/client.js") return response.writeHead(200, { "content-type": "text/javascript" }).end(client)
    if (path === "/config.json") {
      return response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ...config, event: transferEvent }))
    }
    if (!path.startsWith("/api/")) return response.writeHead(404).end()
    try {
      const chunks: Array<Buffer> = []
      for await (const chunk of request) chunks.push(chunk as Buffer)
      const upstream = await fetch(service.baseUrl + request.url, {
        method: request.method ?? "GET",
        headers: Object.fromEntries(
          Object.entries(request.headers).filter(([name]) => ["content-type", "authorization", "last-event-id"].includes(name))
        ) as Record<string, string>,
        ...(chunks.length === 0 ? {} : { body: Buffer.concat(chunks) })
      })
      const hopByHop = ["connection", "keep-alive", "transfer-encoding", "content-length"]
      response.writeHead(upstream.status, Object.fromEntries([...upstream.headers].filter(([name]) => !hopByHop.includes(name))))
      if (upstream.body === null) return response.end()
      const body = Readable.fromWeb(upstream.body as any)
      response.once("close", () => body.destroy())
      body.on("error", () => response.destroy()).pipe(response)
    } catch (cause) {
      response.writeHead(502, { "content-type": "text/plain" }).end(String(cause))
    }
  })
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })))
}
