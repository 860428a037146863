import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { createServer, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { ChainjobsClient } from "../src/index.ts"

/**
 * How the client stops: a wait aborted while it sleeps or while a poll is
 * in flight, a stream left with `break` (its connection closed), and odd
 * refusals (a `null` body, a fetch rejecting with nothing) — against a real
 * HTTP server on loopback that answers as each test scripts it.
 */

let answer: (url: string, response: ServerResponse) => void = (_, response) => response.writeHead(500).end()
let baseUrl = ""
const server = createServer((request, response) => {
  answer(request.url ?? "", response)
})
beforeAll(() => new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve)).then(() => {
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}))
afterAll(() => {
  server.closeAllConnections()
  return new Promise<void>((resolve) => server.close(() => resolve()))
})

/** Catches what a promise rejects with. */
const rejection = (promise: Promise<unknown>): Promise<any> => promise.then(() => expect.fail("expected a rejection"), (error) => error)

const running = JSON.stringify({ id: "t1", status: "running", progress: 0 })

describe("ChainjobsClient stopping", () => {
  it("a wait aborted while it sleeps between polls rejects with the signal's reason", async () => {
    answer = (_, response) => response.writeHead(200).end(running)
    const controller = new AbortController()
    const waiting = rejection(new ChainjobsClient({ baseUrl }).wait("t1", { intervalMillis: 600_000, onProgress: () => setTimeout(() => controller.abort("stop sleeping"), 20), signal: controller.signal }))
    expect(await waiting).toBe("stop sleeping")
  })

  it("a wait aborted while a poll is unanswered rejects with the signal's reason", async () => {
    const controller = new AbortController()
    // The abort comes once the poll has reached the server, so its fetch is surely under way; the answer
    // written after it (a finished record) is what a fetch not given the signal would return instead.
    answer = (_, response) => {
      controller.abort("stop polling")
      response.writeHead(200).end(JSON.stringify({ id: "t1", status: "completed", progress: 1 }))
    }
    const waiting = rejection(new ChainjobsClient({ baseUrl }).wait("t1", { signal: controller.signal }))
    expect(await waiting).toBe("stop polling")
  })

  it("leaving an event stream with break closes its connection", async () => {
    let streamClosed = false
    answer = (_, response) => {
      response.on("close", () => (streamClosed = true))
      response.writeHead(200, { "content-type": "text/event-stream" })
      response.write(`data: ${running}\n\n`)
    }
    for await (const one of new ChainjobsClient({ baseUrl }).events("t1")) {
      expect(one.status).toBe("running")
      break
    }
    while (!streamClosed) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(streamClosed).toBe(true)
  })

  it("takes only the one space after data:, keeping the ones inside the value", async () => {
    answer = (_, response) => response.writeHead(200, { "content-type": "text/event-stream" }).end(`data:{"message":"a b c"}\n\ndata:  {"message":" d"}\n\n`)
    const got: Array<unknown> = []
    for await (const one of new ChainjobsClient({ baseUrl }).events("t1")) got.push(one)
    expect(got).toEqual([{ message: "a b c" }, { message: " d" }])
  })

  it("a refusal whose body is JSON null, and a fetch rejecting with nothing, are still ChainjobsErrors", async () => {
    answer = (_, response) => response.writeHead(500).end("null")
    const nullBody = await rejection(new ChainjobsClient({ baseUrl }).kinds())
    expect([nullBody.name, nullBody.status, nullBody.tag, nullBody.message, nullBody.body]).toEqual(["ChainjobsError", 500, "HTTP500", "GET /api/kinds answered 500", null])
    const nothing = await rejection(new ChainjobsClient({ baseUrl, fetch: () => Promise.reject(undefined) }).kinds())
    expect([nothing.name, nothing.tag, nothing.message]).toEqual(["ChainjobsError", "Unreachable", "GET /api/kinds: undefined"])
  })
})
