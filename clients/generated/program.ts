/**
 * A program written against the client generated from a live `/openapi.json`
 * (`schema.ts`, by openapi-typescript) and openapi-fetch: it submits each demo
 * kind and a chain kind with type-checked payloads, reads typed results, and
 * matches every error a submission can answer (the switch is exhaustive: an
 * error the document adds would not compile until it is matched). It prints
 * one JSON line per step. Run: `node program.ts <base URL>`.
 */
import createClient from "openapi-fetch"
import type { paths } from "./schema.ts"

const client = createClient<paths>({ baseUrl: process.argv[2] })
const print = (step: string, value: unknown) => console.log(JSON.stringify({ step, value }))

/** A submission's error, as the generated types give it. */
type SubmitError = NonNullable<Awaited<ReturnType<typeof submitScan>>["error"]>

/** Every error a submission can answer, matched by its `_tag`. */
const explain = (error: SubmitError): string => {
  if (typeof error === "string") return `unsupported media type: ${error}`
  switch (error._tag) {
    case "InvalidPayload":
      return `invalid payload: ${error.issues.map((issue) => issue.path.join(".")).join(", ")}`
    case "BadRequest":
      return `bad request (${error.part})`
    case "PayloadTooDeep":
      return `payload nested ${error.depth} deep, the limit is ${error.limit}`
    case "PayloadTooLarge":
      return `payload of ${error.size} bytes, the limit is ${error.limit}`
    case "QuotaExceeded":
      return `quota of ${error.limit} exceeded, retry in ${error.retryAfterMillis} ms`
    case "SubmitRejected":
      return `rejected: ${error.reason}`
    case "UnknownTaskKind":
      return `unknown kind ${error.kind}`
    case "TaskNotFound":
      return `no task ${error.id}`
    case "TaskStoreError":
      return `store: ${error.detail}`
    case "Unauthenticated":
      return `unauthenticated: ${error.credential}`
    case "WebhookRefused":
      return `webhook refused: ${error.reason}`
    default: {
      const unmatched: never = error
      return unmatched
    }
  }
}

const submitScan = (body: paths["/api/tasks/demo-scan"]["post"]["requestBody"]["content"]["application/json"]) =>
  client.POST("/api/tasks/demo-scan", { body, params: { query: { wait: "true" } } })

// A typed payload, a typed result.
const scanned = await submitScan({ fromBlock: 1, toBlock: 3, delayMillis: 0 })
if (scanned.data !== undefined && "id" in scanned.data && scanned.data.result) {
  const blocks: number = scanned.data.result.blocks
  print("demo-scan", { status: scanned.data.status, blocks, createdAtIso: scanned.data.createdAtIso })
}

// A kind that fails: its final record says why.
const failed = await client.POST("/api/tasks/demo-fail", {
  body: { steps: 1, delayMillis: 0 },
  params: { query: { wait: "true" } }
})
if (failed.data !== undefined && "id" in failed.data) {
  print("demo-fail", { status: failed.data.status, reason: failed.data.reason })
  const result = await client.GET("/api/tasks/{id}/result", { params: { path: { id: failed.data.id } } })
  if (result.error?._tag === "TaskFailed") print("demo-fail result", { status: result.error.status })
}

// A chain kind at its slash path, accepted (202) without waiting; then deleted.
const accepted = await client.POST("/api/tasks/chain/scan-addresses", {
  body: { chain: "mainnet", addresses: ["0x0000000000000000000000000000000000000001"], fromBlock: 1, toBlock: 2 }
})
if (accepted.data !== undefined && "taskId" in accepted.data) {
  print("chain/scan-addresses", { status: accepted.response.status, kind: accepted.data.kind })
  const deleted = await client.DELETE("/api/tasks/{id}", { params: { path: { id: accepted.data.taskId } } })
  print("delete", deleted.response.status)
}

// Listing: integer query parameters, typed records.
const listed = await client.GET("/api/tasks", { params: { query: { limit: 2, status: "completed" } } })
print("list", listed.data?.items.map((item) => item.kind))

// The errors the server answers, each matched.
const wrong: any = { fromBlock: "one", toBlock: "three" }
print("invalid", explain((await submitScan(wrong)).error!))
const badQuery = await client.POST("/api/tasks/demo-scan", {
  body: { fromBlock: 1, toBlock: 1, delayMillis: 0 },
  params: { query: { priority: "high" as unknown as number } }
})
print("bad query", explain(badQuery.error!))
const plain = await client.POST("/api/tasks/demo-scan", {
  body: { fromBlock: 1, toBlock: 1, delayMillis: 0 },
  headers: { "content-type": "text/plain" },
  bodySerializer: (body) => JSON.stringify(body)
})
print("plain text", { status: plain.response.status, explained: explain(plain.error!) })
const missing = await client.GET("/api/tasks/{id}", { params: { path: { id: "no-such-task" } } })
if (missing.error !== undefined) print("missing", explain(missing.error))
