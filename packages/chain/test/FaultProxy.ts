/**
 * A JSON-RPC proxy on 127.0.0.1 that injects faults: it answers 429 or 500,
 * stalls (never answers), garbles the body, or rejects `eth_getLogs` ranges
 * above a size, at set rates, drawn from a seeded generator so that a run is
 * reproducible; it can also hold back the calls of one method, lose
 * the answers to them after they reached the node, answer them with a
 * given provider's JSON-RPC error, hold back reads of blocks above a
 * number until told otherwise, claim another sender for every
 * transaction of the blocks it returns, leave the logs out of receipts, or claim a head above the node's. Everything else is forwarded to the target node. It counts
 * what it did, so a test can check that faults really happened. The client's
 * `eth_chainId` question is forwarded untouched and uncounted (`faultChainId`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import { Effect } from "effect"

/** Fault rates (0–1, per request) and limits. */
export interface Faults {
  readonly rateLimited: number
  /** Answers HTTP 200 with Infura's JSON-RPC error for a spent request budget (-32005). */
  readonly rpcRateLimited: number
  readonly serverError: number
  readonly stall: number
  readonly garble: number
  /** `eth_getLogs` calls spanning more blocks than this are rejected as too large. */
  readonly maxLogRange: number
  /** The `Retry-After` of a 429, in seconds. */
  readonly retryAfterSeconds: number
  /** Requests that call this method are forwarded only after `slowMillis`. */
  readonly slowMethod: string | undefined
  readonly slowMillis: number
  /** The next this many calls of `dropAnswerMethod` reach the node, but their answers never come back. */
  readonly dropAnswers: number
  readonly dropAnswerMethod: string | undefined
  /** The JSON-RPC error (and HTTP status, default 200) answered to a range above `maxLogRange`. */
  readonly rangeError: ProviderError
  /** A provider's JSON-RPC error answered to requests calling `providerErrorMethod` (any, if undefined)... */
  readonly providerError: ProviderError | undefined
  readonly providerErrorMethod: string | undefined
  /** ...at this rate... */
  readonly providerErrorRate: number
  /** ...or to the next this many of them. */
  readonly providerErrorTimes: number
  /** `eth_getBlockByNumber` requests for a block above this one wait until it is raised (by `set`). */
  readonly holdAbove: number
  /** Headers every request must carry with these values (e.g. an API key); a request without them is answered 401. */
  readonly requireHeaders: Readonly<Record<string, string>>
  /** Answers to `eth_getBlockByNumber` claim this sender for every transaction (a lying provider). */
  readonly rewriteFrom: string | undefined
  /** Answers to `eth_getTransactionReceipt` leave out every log (a lying provider). */
  readonly dropLogs: boolean
  /**
   * Answers to `eth_blockNumber` claim a head this many blocks above the node's: a provider's balancer whose nodes
   * lag each other, the head read from one and the blocks from another that has not the last ones yet (it answers
   * null for them).
   */
  readonly headAhead: number
  /**
   * Whether a lone `eth_chainId` call (the client's question of which chain an endpoint serves) meets the faults
   * and counts. Default: it is forwarded as it is, uncounted (only the required headers apply), so that the faults
   * and counts are those of the calls a test makes.
   */
  readonly faultChainId: boolean
}

/** A JSON-RPC error as a provider sends it. */
export interface ProviderError {
  readonly code: number
  readonly message: string
  readonly status?: number | undefined
}

/** No faults. */
export const none: Faults = {
  rateLimited: 0,
  rpcRateLimited: 0,
  serverError: 0,
  stall: 0,
  garble: 0,
  maxLogRange: Number.POSITIVE_INFINITY,
  retryAfterSeconds: 0,
  slowMethod: undefined,
  slowMillis: 0,
  dropAnswers: 0,
  dropAnswerMethod: undefined,
  rangeError: { code: -32005, message: "query exceeds max block range" },
  providerError: undefined,
  providerErrorMethod: undefined,
  providerErrorRate: 0,
  providerErrorTimes: 0,
  holdAbove: Number.POSITIVE_INFINITY,
  requireHeaders: {},
  rewriteFrom: undefined,
  dropLogs: false,
  headAhead: 0,
  faultChainId: false
}

/** What the proxy did so far. */
export interface Counts {
  requests: number
  forwarded: number
  rateLimited: number
  rpcRateLimited: number
  serverError: number
  stall: number
  garble: number
  rangeRejected: number
  providerError: number
  /** Requests held back by `holdAbove`. */
  held: number
  /** Requests answered 401 for lacking the headers of `requireHeaders`. */
  unauthorized: number
  /** The blocks of the `eth_getBlockByNumber` calls forwarded, in order. */
  blocksRead: Array<number>
}

/** A running proxy. */
export interface FaultProxy {
  readonly url: string
  readonly counts: Counts
  /** Changes the faults from now on. */
  set(faults: Partial<Faults>): void
}

/** A small seeded generator (mulberry32). */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

interface Message {
  readonly id: unknown
  readonly method: string
  readonly params: ReadonlyArray<any>
}

/** Whether a body is a lone `eth_chainId` call: the client's check of which chain the endpoint serves. */
const isChainIdQuestion = (body: string) => {
  try {
    const parsed = JSON.parse(body) as unknown
    return !Array.isArray(parsed) && (parsed as Message | null)?.method === "eth_chainId"
  } catch {
    return false
  }
}

const logRange = (message: Message) =>
  message.method === "eth_getLogs"
    ? Number(BigInt(message.params[0].toBlock)) - Number(BigInt(message.params[0].fromBlock)) + 1
    : 0

/** Starts a proxy in front of `target`; it stops when the scope closes. */
export const make = (target: string, faults: Partial<Faults> = {}, seed = 1) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly proxy: FaultProxy; readonly close: () => void }>((resume) => {
      let current: Faults = { ...none, ...faults }
      const next = random(seed)
      const counts: Counts = { requests: 0, forwarded: 0, rateLimited: 0, rpcRateLimited: 0, serverError: 0, stall: 0, garble: 0, rangeRejected: 0, providerError: 0, held: 0, unauthorized: 0, blocksRead: [] }
      const holding = new Set<() => void>()
      const rewritten = (text: string, messages: ReadonlyArray<Message>) => {
        const from = current.rewriteFrom
        if (from === undefined && !current.dropLogs && current.headAhead === 0) return text
        const parsed = JSON.parse(text) as unknown
        for (const answer of Array.isArray(parsed) ? parsed : [parsed]) {
          const asked = messages.find((message) => message.id === answer?.id)
          if (asked?.method === "eth_blockNumber" && typeof answer.result === "string") {
            answer.result = `0x${(BigInt(answer.result) + BigInt(current.headAhead)).toString(16)}`
          }
          for (const transaction of from === undefined ? [] : answer?.result?.transactions ?? []) {
            if (typeof transaction === "object" && transaction !== null) transaction.from = from
          }
          if (current.dropLogs && Array.isArray(answer?.result?.logs)) answer.result.logs = []
        }
        return JSON.stringify(parsed)
      }
      const heldBack = (messages: ReadonlyArray<Message>) =>
        messages.some((message) => message.method === "eth_getBlockByNumber" && Number(BigInt(message.params[0])) > current.holdAbove)
      const stalled = new Set<ServerResponse>()
      const handle = async (request: IncomingMessage, response: ServerResponse) => {
        const chunks: Array<Buffer> = []
        for await (const chunk of request) chunks.push(chunk as Buffer)
        const body = Buffer.concat(chunks).toString("utf8")
        const question = !current.faultChainId && isChainIdQuestion(body)
        if (!question) counts.requests++
        if (Object.entries(current.requireHeaders).some(([name, value]) => request.headers[name.toLowerCase()] !== value)) {
          counts.unauthorized++
          response.writeHead(401, { "content-type": "text/plain" }).end("missing API key")
          return
        }
        if (question) {
          const answer = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body })
          return response.writeHead(answer.status, { "content-type": "application/json" }).end(await answer.text())
        }
        const draw = next()
        let threshold = current.rateLimited
        if (draw < threshold) {
          counts.rateLimited++
          return response.writeHead(429, { "retry-after": String(current.retryAfterSeconds) }).end("too many requests")
        }
        if (draw < (threshold += current.rpcRateLimited)) {
          counts.rpcRateLimited++
          const error = { jsonrpc: "2.0", id: null, error: { code: -32005, message: "daily request count exceeded, request rate limited" } }
          return response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(error))
        }
        if (draw < (threshold += current.serverError)) {
          counts.serverError++
          return response.writeHead(502).end("bad gateway")
        }
        if (draw < (threshold += current.stall)) {
          counts.stall++
          stalled.add(response)
          return response.on("close", () => stalled.delete(response))
        }
        const parsed = JSON.parse(body) as Message | ReadonlyArray<Message>
        const messages = Array.isArray(parsed) ? parsed : [parsed as Message]
        const tooLarge = messages.find((message) => logRange(message) > current.maxLogRange)
        if (tooLarge !== undefined) {
          counts.rangeRejected++
          const { code, message, status } = current.rangeError
          const error = { jsonrpc: "2.0", id: tooLarge.id, error: { code, message: `${message} (${current.maxLogRange})` } }
          return response.writeHead(status ?? 200, { "content-type": "application/json" }).end(JSON.stringify(error))
        }
        const injected = current.providerError
        if (
          injected !== undefined &&
          messages.some((message) => current.providerErrorMethod === undefined || message.method === current.providerErrorMethod) &&
          (current.providerErrorTimes > 0 || next() < current.providerErrorRate)
        ) {
          if (current.providerErrorTimes > 0) current = { ...current, providerErrorTimes: current.providerErrorTimes - 1 }
          counts.providerError++
          const errors = messages.map((message) => ({
            jsonrpc: "2.0",
            id: message.id,
            error: { code: injected.code, message: injected.message }
          }))
          return response.writeHead(injected.status ?? 200, { "content-type": "application/json" })
            .end(JSON.stringify(Array.isArray(parsed) ? errors : errors[0]))
        }
        if (heldBack(messages)) {
          counts.held++
          while (heldBack(messages)) await new Promise<void>((resolve) => holding.add(resolve))
        }
        if (messages.some((message) => message.method === current.slowMethod)) {
          await new Promise((resolve) => setTimeout(resolve, current.slowMillis))
        }
        const answer = await fetch(target, { method: "POST", headers: { "content-type": "application/json" }, body })
        const text = rewritten(await answer.text(), messages)
        if (current.dropAnswers > 0 && messages.some((message) => message.method === current.dropAnswerMethod)) {
          current = { ...current, dropAnswers: current.dropAnswers - 1 }
          counts.stall++
          stalled.add(response)
          return response.on("close", () => stalled.delete(response))
        }
        if (draw < (threshold += current.garble)) {
          counts.garble++
          return response.writeHead(200, { "content-type": "application/json" }).end(text.slice(0, text.length >> 1))
        }
        counts.forwarded++
        for (const message of messages) {
          if (message.method === "eth_getBlockByNumber") counts.blocksRead.push(Number(BigInt(message.params[0])))
        }
        response.writeHead(answer.status, { "content-type": "application/json" }).end(text)
      }
      const server = createServer((request, response) => {
        handle(request, response).catch(() => response.writeHead(500).end())
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({
          proxy: {
            url: `http://127.0.0.1:${port}`,
            counts,
            set: (faults) => {
              current = { ...current, ...faults }
              for (const resume of holding) resume()
              holding.clear()
            }
          },
          close: () => {
            current = { ...current, holdAbove: Number.POSITIVE_INFINITY }
            for (const resume of holding) resume()
            for (const response of stalled) response.destroy()
            server.closeAllConnections()
            server.close()
          }
        }))
      })
    }),
    ({ close }) => Effect.sync(close)
  ).pipe(Effect.map(({ proxy }) => proxy))
