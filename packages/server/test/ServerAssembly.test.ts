/**
 * How `Server.layer` assembles the service from its settings, each case
 * building (and stopping) a service of its own inside the test: the banner
 * it prints, the store a data dir holds across a restart (and the typed
 * refusal of a data dir that cannot be made), the routes that come with
 * chains and Sui networks, and a request body allowed the request timeout
 * rather than the headers' one (and headers that never end cut).
 */
import { assert, describe, it } from "@effect/vitest"
import { Console, Duration, Effect, Exit, Layer } from "effect"
import { HttpServer } from "effect/http"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { connect } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { request, testServer } from "./http.ts"

/** A folder of the test's own under the system's temporary one, removed when the scope closes. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "chainjobs-assembly-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** Runs `use` against a service built on `settings` for it alone, stopped when `use` ends. */
const withService = <A, E, R>(settings: Parameters<typeof testServer>[0], use: Effect.Effect<A, E, R>) =>
  Effect.scoped(Effect.flatMap(Layer.build(testServer(settings)), (context) => Effect.provide(use, context)))

/** The status line of the answer to `head` followed, `pauseMillis` later, by `body`; "" when the connection closed unanswered. */
const sendInTwoParts = (base: string, head: string, body: string, pauseMillis: number) =>
  Effect.promise(() =>
    new Promise<string>((resolve) => {
      const { hostname, port } = new URL(base)
      let answer = ""
      const socket = connect(Number(port), hostname, () => {
        socket.write(head)
        setTimeout(() => socket.writable && socket.write(body), pauseMillis)
      })
      socket.on("data", (chunk) => {
        answer += chunk.toString()
        if (answer.includes("\r\n")) socket.destroy()
      })
      socket.on("close", () => resolve(answer.split("\r\n")[0] ?? ""))
      socket.on("error", () => undefined)
    })
  )

/** A `Stats` call, the RPC's one request line (ndjson). */
const statsLine = `${JSON.stringify({ _tag: "Request", id: "1", tag: "Stats", payload: null, headers: [] })}\n`

/** The `Exit` answering `statsLine` over HTTP at `url` (`POST`): its status and the exit's tag, e.g. `200 Success`. */
const statsOverHttp = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/ndjson" }, body: statsLine })
    const lines = (await response.text()).split("\n").filter((line) => line.startsWith("{"))
    const exit = lines.map((line) => JSON.parse(line)).find((answer) => answer._tag === "Exit")
    return `${response.status} ${exit?.exit._tag}`
  })

/** The tag of the `Exit` answering `statsLine` over a WebSocket at `url`; at most 15 s, then the test fails saying so. */
const statsOverWebsocket = (url: string) =>
  Effect.promise(() =>
    new Promise<string>((resolve, reject) => {
      const socket = new WebSocket(url)
      const timer = setTimeout(() => {
        socket.close()
        reject(new Error(`no answer over ${url} within 15 s`))
      }, 15_000)
      socket.onerror = () => reject(new Error(`the socket to ${url} failed`))
      socket.onopen = () => socket.send(statsLine)
      socket.onmessage = (event) => {
        const exit = String(event.data).split("\n").filter((line) => line.startsWith("{")).map((line) => JSON.parse(line))
          .find((answer) => answer._tag === "Exit")
        if (exit === undefined) return
        clearTimeout(timer)
        socket.close()
        resolve(exit.exit._tag)
      }
    })
  )

describe("Server assembly", () => {
  it.live("the banner printed once the service listens names its dashboard, docs, OpenAPI document, RPC, WebSocket and metrics, each answering", () =>
    Effect.gen(function*() {
      const printed: Array<string> = []
      const capture = { ...globalThis.console, log: (...parts: Array<unknown>) => printed.push(parts.join(" ")) }
      const answers = yield* withService(
        {},
        Effect.gen(function*() {
          const base = HttpServer.formatAddress((yield* HttpServer.HttpServer).address)
          const statuses = yield* Effect.forEach(["/", "/docs", "/openapi.json", "/metrics"], (path) =>
            Effect.map(request("GET", path), (reply) => `${path} ${reply.status}`))
          // The RPC, over HTTP and over a WebSocket, where the banner says: a call answered.
          const rpc = [
            `/rpc ${yield* statsOverHttp(`${base}/rpc`)}`,
            `/ws ${yield* statsOverWebsocket(`${base.replace(/^http/, "ws")}/ws`)}`
          ]
          return { base, statuses, rpc }
        })
      ).pipe(Effect.provideService(Console.Console, capture))
      const { base } = answers
      const ws = base.replace(/^http/, "ws")
      // the log lines (timed, leveled) go to the same console
      const lines = printed.join("\n").split("\n")
      assert.isTrue(
        lines.some((line) => / WARN .*chainjobs: tasks are kept in memory; they do not survive a restart$/.test(line)),
        `a service on memory warns that its tasks do not survive a restart: ${JSON.stringify(lines)}`
      )
      assert.deepStrictEqual(lines.filter((line) => !line.startsWith("[")), [
        `chainjobs is listening on ${base}`,
        `  dashboard  ${base}/`,
        `  API docs   ${base}/docs  (OpenAPI: ${base}/openapi.json)`,
        `  RPC        ${base}/rpc  (WebSocket: ${ws}/ws)`,
        `  metrics    ${base}/metrics`
      ])
      assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.deepStrictEqual(answers.statuses, ["/ 200", "/docs 200", "/openapi.json 200", "/metrics 200"])
      assert.deepStrictEqual(answers.rpc, ["/rpc 200 Success", "/ws Success"])
    }), { timeout: 60_000 })

  it.live("tasks in a data dir (made, parents and all) outlive a restart; a data dir that cannot be made stops the start with a TaskStoreError naming it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const dataDir = join(dir, "nested", "data")
      const submitted = yield* withService(
        { dataDir },
        request("POST", "/api/tasks/demo-scan?wait=true", { body: { fromBlock: 1, toBlock: 2, delayMillis: 0 } })
      )
      assert.strictEqual(submitted.body.status, "completed", submitted.text)
      assert.isTrue(existsSync(join(dataDir, "chainjobs.db")), "the task store is the file chainjobs.db in the data dir")
      const again = yield* withService({ dataDir }, request("GET", `/api/tasks/${submitted.body.id}`))
      assert.strictEqual(again.status, 200, again.text)
      assert.deepStrictEqual(again.body.result, submitted.body.result)

      const blocker = join(dir, "a-file")
      writeFileSync(blocker, "")
      const refused = yield* Effect.exit(withService({ dataDir: join(blocker, "data") }, Effect.void))
      assert.isTrue(Exit.isFailure(refused))
      const error = Exit.isFailure(refused) ? Exit.findErrorOption(refused) : undefined
      assert.strictEqual(error?._tag, "Some", String(refused))
      const failure = (error as any).value
      assert.strictEqual(failure._tag, "TaskStoreError")
      assert.match(failure.message, new RegExp(`^task store open: cannot create ${join(blocker, "data")}: `))
    }), { timeout: 90_000 })

  it.live("the chain and watch routes come with chains, the Sui routes with Sui networks; without them they are not found", () =>
    Effect.gen(function*() {
      const paths = ["/api/chains", "/api/watch/watchers", "/api/sui/networks"]
      const statuses = (settings: Parameters<typeof testServer>[0]) =>
        withService(settings, Effect.forEach(paths, (path) => Effect.map(request("GET", path), (reply) => reply.status)))
      assert.deepStrictEqual(yield* statuses({}), [404, 404, 404])
      const chains = yield* withService(
        { chains: [{ name: "mainnet", chainId: 1, endpoints: [{ url: "http://127.0.0.1:9/never-called" }] }] },
        Effect.all([request("GET", "/api/chains"), request("GET", "/api/watch/watchers"), request("GET", "/api/sui/networks")])
      )
      assert.deepStrictEqual(chains.map((reply) => reply.status), [200, 200, 404])
      assert.deepStrictEqual(chains[0].body.map((chain: any) => chain.chain), ["mainnet"])
      assert.deepStrictEqual(chains[1].body, [])
      const sui = yield* withService(
        { suiNetworks: [{ name: "sui-x", endpoints: [{ url: "http://127.0.0.1:9/never-called" }] }] },
        Effect.all([request("GET", "/api/chains"), request("GET", "/api/sui/networks")])
      )
      assert.deepStrictEqual(sui.map((reply) => reply.status), [404, 200])
      assert.deepStrictEqual(sui[1].body.map((network: any) => network.network), ["sui-x"])
    }), { timeout: 90_000 })

  it.live("a request body may arrive after the headers' timeout, within the request's", () =>
    Effect.gen(function*() {
      const body = JSON.stringify({ fromBlock: 1, toBlock: 1, delayMillis: 0 })
      const status = yield* withService(
        { headersTimeout: Duration.millis(300), requestTimeout: Duration.seconds(20) },
        Effect.flatMap(HttpServer.HttpServer, (server) =>
          sendInTwoParts(
            HttpServer.formatAddress(server.address),
            `POST /api/tasks/demo-scan HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
            body,
            1500
          ))
      )
      assert.match(status, /^HTTP\/1\.1 20[12] /, `the answer's status line: ${JSON.stringify(status)}`)
    }), { timeout: 60_000 })

  it.live("headers that never end lose their connection after the headers' timeout", () =>
    Effect.gen(function*() {
      const status = yield* withService(
        { headersTimeout: Duration.millis(300), requestTimeout: Duration.seconds(20) },
        Effect.flatMap(HttpServer.HttpServer, (server) =>
          // the rest of the headers would come after 30 s: the connection is cut long before (the test's timeout bounds it)
          sendInTwoParts(HttpServer.formatAddress(server.address), "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", "1\r\n\r\n", 30_000))
      )
      assert.match(status, /^(HTTP\/1\.1 408 .*|)$/, `the answer's status line: ${JSON.stringify(status)}`)
    }), { timeout: 25_000 })
})
