/**
 * A JSON-RPC endpoint on 127.0.0.1 whose every answer a test scripts: the
 * HTTP status, headers and body it sends back to each request, from the
 * calls the request carried. For the answers a real node sends only when
 * something is wrong (bodies that are not JSON, answers missing or without a
 * result, errors with a null id, statuses and `Retry-After` headers of every
 * kind, or no answer at all), which the client must read right. It notes the
 * requests it got. A lone `eth_chainId` call (the client's check of which
 * chain an endpoint serves) is answered with the dev chain's id and not
 * noted, unless the options give the chain id to answer or hand it to the
 * script (`chainId: "scripted"`).
 */
import { createServer } from "node:http"
import { Effect } from "effect"

/** One JSON-RPC call as the endpoint received it. */
export interface Call {
  readonly id: number
  readonly method: string
  readonly params: ReadonlyArray<unknown>
}

/**
 * What the endpoint sends back: a status (default 200), headers, and a body (a string or bytes as they are, anything
 * else as JSON); or nothing ever (`stall`); or the body and then never the answer's end (`endless`); or the answer
 * only once `after` settles (a test holds it back until then).
 */
export interface Answer {
  readonly status?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly body: unknown
  readonly stall?: boolean | undefined
  readonly endless?: boolean | undefined
  readonly after?: PromiseLike<unknown> | undefined
}

/** Scripts the answer to one request: its calls (one, or a batch) and whether it was a batch. */
export type Script = (calls: ReadonlyArray<Call>, batch: boolean) => Answer

/** A running scripted endpoint. */
export interface ScriptedNode {
  readonly url: string
  /** The requests received so far. */
  readonly requests: () => number
  /** The calls of each request received so far, in order. */
  readonly received: ReadonlyArray<ReadonlyArray<Call>>
  /** Whether each request received so far was a batch (an array), in order. */
  readonly batches: ReadonlyArray<boolean>
}

/** The JSON-RPC answer carrying a result to a call. */
export const result = (call: Call, value: unknown) => ({ jsonrpc: "2.0", id: call.id, result: value })

/** The JSON-RPC answer carrying an error to a call (or to none: a null id). */
export const error = (id: number | null, code: unknown, message: unknown) => ({ jsonrpc: "2.0", id, error: { code, message } })

/** How the endpoint answers `eth_chainId`: with this id (default 31337, the dev chain's), or by the script. */
export interface Options {
  readonly chainId?: number | "scripted" | undefined
}

/** Starts an endpoint answering by `script`; it stops when the scope closes. */
export const make = (script: Script, options: Options = {}) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly node: ScriptedNode; readonly close: () => void }>((resume) => {
      const received: Array<ReadonlyArray<Call>> = []
      const batches: Array<boolean> = []
      const server = createServer((request, response) => {
        const chunks: Array<Buffer> = []
        request.on("data", (chunk: Buffer) => chunks.push(chunk))
        request.on("end", () => {
          const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Call | ReadonlyArray<Call>
          const calls = Array.isArray(parsed) ? parsed : [parsed as Call]
          const chainId = options.chainId ?? 31337
          if (chainId !== "scripted" && !Array.isArray(parsed) && calls[0]!.method === "eth_chainId") {
            response.writeHead(200, { "content-type": "application/json" })
              .end(JSON.stringify(result(calls[0]!, `0x${chainId.toString(16)}`)))
            return
          }
          received.push(calls)
          batches.push(Array.isArray(parsed))
          const answer = script(calls, Array.isArray(parsed))
          if (answer.stall === true) return
          const body = typeof answer.body === "string" || Buffer.isBuffer(answer.body) ? answer.body : JSON.stringify(answer.body)
          const send = () => {
            response.writeHead(answer.status ?? 200, { "content-type": "application/json", ...answer.headers })
            if (answer.endless === true) response.write(body)
            else response.end(body)
          }
          if (answer.after === undefined) send()
          else answer.after.then(send, send)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({
          node: { url: `http://127.0.0.1:${port}`, requests: () => received.length, received, batches },
          close: () => {
            server.closeAllConnections()
            server.close()
          }
        }))
      })
    }),
    ({ close }) => Effect.sync(close)
  ).pipe(Effect.map(({ node }) => node))
