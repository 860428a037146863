import { afterAll, beforeAll, describe, expect, it, vi } from "@effect/vitest"
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { ChainjobsClient, ChainjobsError, type TaskRecord, WaitTimeout } from "../src/index.ts"
import { taskRecord } from "./taskRecords.ts"

/**
 * The client's requests and its reading of answers, against a real HTTP
 * server on a loopback port that answers as each test scripts it (answers the
 * service never gives: a proxy's non-JSON error page, an event stream in
 * CRLF, an empty stream) and records what it was sent.
 */

interface Seen {
  readonly method: string
  readonly url: string
  readonly authorization: string | undefined
  readonly contentType: string | undefined
  readonly body: string
}

let answer: (request: Seen, response: ServerResponse) => void = (_, response) => response.writeHead(500).end()
const seen: Array<Seen> = []
let baseUrl = ""
const server = createServer((request: IncomingMessage, response) => {
  let body = ""
  request.setEncoding("utf8")
  request.on("data", (chunk) => (body += chunk))
  request.on("end", () => {
    const one: Seen = {
      method: request.method ?? "",
      url: request.url ?? "",
      authorization: request.headers.authorization,
      contentType: request.headers["content-type"],
      body
    }
    seen.push(one)
    answer(one, response)
  })
})

beforeAll(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)).then(() => {
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}))
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

/** Answers every request with `status` and `body` as JSON, and forgets what was seen before. */
const answerJson = (status: number, body: unknown) => {
  seen.length = 0
  answer = (_, response) => response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body))
}

/** Catches what a promise rejects with. */
const rejection = (promise: Promise<unknown>): Promise<any> => promise.then(() => expect.fail("expected a rejection"), (error) => error)

/** A task's record in the service's shape, with `status`. */
const record = (status: TaskRecord["status"], progress = 0): TaskRecord => taskRecord({ status, progress })

describe("ChainjobsClient on the wire", () => {
  it("strips the base URL's trailing slashes, sends the bearer only when given, and the content type only with a body", async () => {
    seen.length = 0
    answer = (request, response) => response.writeHead(request.method === "POST" ? 202 : 200).end(`{"taskId":"t1"}`)
    const client = new ChainjobsClient({ baseUrl: `${baseUrl}//`, token: "secret" })
    await client.submit("a kind", { n: 1 })
    await client.status("t/1")
    expect(seen.map(({ method, url, authorization, contentType, body }) => [method, url, authorization, contentType, body])).toEqual([
      ["POST", "/api/tasks/a%20kind", "Bearer secret", "application/json", `{"n":1}`],
      ["GET", "/api/tasks/t%2F1", "Bearer secret", undefined, ""]
    ])
    answerJson(200, [])
    await new ChainjobsClient({ baseUrl }).kinds()
    expect(seen.map(({ url, authorization }) => [url, authorization])).toEqual([["/api/kinds", undefined]])
  })

  it("puts the submission's options and the listing's filter in the query, leaving out the ones not given", async () => {
    // A caller in plain JavaScript (or without exactOptionalPropertyTypes) may name an option as undefined.
    const unset = undefined as unknown as number
    const client = new ChainjobsClient({ baseUrl })
    answerJson(200, { items: [], page: 1, limit: 5, nextCursor: null })
    await client.list({ kind: "k", page: unset, limit: 5 })
    await client.list()
    expect(seen.map(({ url }) => url)).toEqual(["/api/tasks?kind=k&limit=5", "/api/tasks"])
    answerJson(202, { taskId: "t1" })
    await client.submit("k", null, { priority: 3, timeoutMillis: unset, webhook: "http://h/x" })
    await client.submit("k", 1)
    expect(seen.map(({ url, body }) => [url, body])).toEqual([
      ["/api/tasks/k?priority=3&webhook=http%3A%2F%2Fh%2Fx", "null"],
      ["/api/tasks/k", "1"]
    ])
  })

  it("reads a refusal's tag and message from its JSON body, and names the status and request when the body is not JSON", async () => {
    answerJson(409, { _tag: "TaskFailed", message: "it failed", status: "failed" })
    const client = new ChainjobsClient({ baseUrl })
    const tagged = await rejection(client.result("t1"))
    expect(tagged).toBeInstanceOf(ChainjobsError)
    expect([tagged.name, tagged.status, tagged.tag, tagged.message, tagged.body]).toEqual(["ChainjobsError", 409, "TaskFailed", "it failed", { _tag: "TaskFailed", message: "it failed", status: "failed" }])
    answerJson(400, { _tag: 7, message: 8 })
    const untagged = await rejection(client.interrupt("t1"))
    expect([untagged.status, untagged.tag, untagged.message]).toEqual([400, "HTTP400", "POST /api/tasks/t1/interrupt answered 400"])
    seen.length = 0
    answer = (_, response) => response.writeHead(502, { "content-type": "text/html" }).end("<h1>Bad gateway</h1>")
    const page = await rejection(client.delete("t1"))
    expect([page.status, page.tag, page.message, page.body]).toEqual([502, "HTTP502", "DELETE /api/tasks/t1 answered 502", "<h1>Bad gateway</h1>"])
    // A status the call does not take is a refusal even when it is a success elsewhere.
    answerJson(200, {})
    const notDeleted = await rejection(client.delete("t1"))
    expect([notDeleted.status, notDeleted.tag]).toEqual([200, "HTTP200"])
    answerJson(202, {})
    const notRead = await rejection(client.status("t1"))
    expect([notRead.status, notRead.tag]).toEqual([202, "HTTP202"])
  })

  it("sends through the fetch it was given, and names the request and the cause when it cannot reach the service", async () => {
    const calls: Array<string> = []
    const failing = new ChainjobsClient({
      baseUrl: "http://unreachable.invalid",
      fetch: async (input) => {
        calls.push(String(input))
        throw new Error("no route")
      }
    })
    const unreachable = await rejection(failing.webhooks("t1"))
    expect(calls).toEqual(["http://unreachable.invalid/api/tasks/t1/webhooks"])
    expect([unreachable.status, unreachable.tag, unreachable.message, unreachable.body]).toEqual([0, "Unreachable", "GET /api/tasks/t1/webhooks: no route", undefined])
    const odd = await rejection(new ChainjobsClient({ baseUrl, fetch: () => Promise.reject("plain text") }).kinds())
    expect(odd.message).toBe("GET /api/kinds: plain text")
  })

  it("polls at its interval until a terminal record, each one reported, and stops with the signal's reason when aborted", async () => {
    const statuses: Array<TaskRecord["status"]> = ["pending", "running", "running", "completed"]
    seen.length = 0
    answer = (_, response) => response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(record(statuses[Math.min(seen.length - 1, 3)])))
    const client = new ChainjobsClient({ baseUrl })
    const reported: Array<string> = []
    const done = await client.wait("t1", { intervalMillis: 1, onProgress: (one) => reported.push(one.status) })
    expect([done.status, reported]).toEqual(["completed", statuses])
    for (const status of ["failed", "interrupted"] as const) {
      answerJson(200, record(status))
      expect((await client.wait("t1", { intervalMillis: 1 })).status).toBe(status)
      expect(seen.length).toBe(1)
    }
    answerJson(200, record("running", 41.6))
    const timedOut = await rejection(client.wait("t1", { timeoutMillis: 0, intervalMillis: 1 }))
    expect(timedOut).toBeInstanceOf(WaitTimeout)
    expect([timedOut.name, timedOut.taskId, timedOut.timeoutMillis, timedOut.message]).toEqual(["WaitTimeout", "t1", 0, "task t1 had not finished after 0 ms (it is running, 42%)"])
    const controller = new AbortController()
    const waiting = rejection(client.wait("t1", { intervalMillis: 60_000, signal: controller.signal, onProgress: () => controller.abort("enough") }))
    expect(await waiting).toBe("enough")
    const aborted = new AbortController()
    aborted.abort("before")
    expect(await rejection(client.wait("t1", { signal: aborted.signal }))).toBe("before")
  })

  it("reads an event stream in CRLF or LF frames, skipping comments and frames without data, and joining a frame's data lines", async () => {
    seen.length = 0
    answer = (_, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" })
      response.write(": keep-alive\r\n\r\n")
      response.write(`event: task\r\ndata: ${JSON.stringify(record("running", 10))}\r\n\r\n`)
      response.write(`data:{"id":"t1",\ndata: "status":"completed"}\n\nda`)
      response.end(`ta: ${JSON.stringify(record("completed", 100))}\r\r`)
    }
    const client = new ChainjobsClient({ baseUrl })
    const got: Array<unknown> = []
    for await (const one of client.events("t 1")) got.push(one)
    expect(seen.map(({ url }) => url)).toEqual(["/api/tasks/t%201/events"])
    expect(got).toEqual([record("running", 10), { id: "t1", status: "completed" }, record("completed", 100)])
  })

  it("ends an empty event stream (204) at once, and an aborted one with the signal's reason", async () => {
    seen.length = 0
    answer = (_, response) => response.writeHead(204).end()
    const client = new ChainjobsClient({ baseUrl })
    const none: Array<unknown> = []
    for await (const one of client.events("t1")) none.push(one)
    expect(none).toEqual([])
    answer = (_, response) => {
      response.writeHead(200, { "content-type": "text/event-stream" })
      response.write(`data: ${JSON.stringify(record("running"))}\n\n`)
    }
    const controller = new AbortController()
    const got: Array<unknown> = []
    const reading = (async () => {
      for await (const one of client.events("t1", { signal: controller.signal })) {
        got.push(one)
        controller.abort(new Error("stop reading"))
      }
    })()
    expect((await rejection(reading)).message).toBe("stop reading")
    expect(got).toEqual([record("running")])
  })

  it("sleeps the interval a wait is given between its polls, not the default", async () => {
    seen.length = 0
    answer = (_, response) => response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(record(seen.length === 1 ? "running" : "completed", 0)))
    // the sleep's timer, seen by its delay (nothing is timed: a wait sleeping the default two seconds passes too, only without the 7)
    const timers = vi.spyOn(globalThis, "setTimeout")
    try {
      const final = await new ChainjobsClient({ baseUrl }).wait("t1", { intervalMillis: 7 })
      expect(final.status).toBe("completed")
      expect(seen.length).toBe(2)
      expect(timers.mock.calls.map(([, delay]) => delay)).toContain(7)
    } finally {
      timers.mockRestore()
    }
  })
})
