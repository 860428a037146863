/**
 * A scripted HTTP server on a loopback port, for the command line's tests: it records every request it is sent
 * (method, path with its query, bearer, content type, body) and answers each as the test's `answer` says, so a
 * command's request and its reading of answers the service rarely gives are checked without starting the service.
 */
import { Effect } from "effect"
import { createServer } from "node:http"
import type { AddressInfo } from "node:net"

/** A request the scripted server was sent. */
export interface Seen {
  readonly method: string
  readonly url: string
  readonly authorization: string | undefined
  readonly contentType: string | undefined
  readonly body: string
}

/** An answer: its status and its body, sent as JSON when given, or as lines of JSON (`ndjson`; none: an empty body). */
export interface Answer {
  readonly status: number
  readonly json?: unknown
  readonly ndjson?: ReadonlyArray<unknown>
}

/** The server's base URL (no trailing slash) and the requests it was sent so far, in order. */
export interface ScriptedHttp {
  readonly url: string
  readonly seen: Array<Seen>
}

/** Starts the server on 127.0.0.1 for the scope, answering each request with `answer(request)`. */
export const scriptedHttp = (answer: (request: Seen) => Answer) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      new Promise<ScriptedHttp & { readonly close: () => Promise<void> }>((resolve) => {
        const seen: Array<Seen> = []
        const server = createServer(async (request, response) => {
          let body = ""
          for await (const chunk of request.setEncoding("utf8")) body += chunk
          const { authorization, "content-type": contentType } = request.headers
          seen.push({ method: request.method ?? "", url: request.url ?? "", authorization, contentType, body })
          const { json, ndjson, status } = answer(seen[seen.length - 1]!)
          if (ndjson !== undefined) {
            response.writeHead(status, { "content-type": "application/x-ndjson" })
              .end(ndjson.map((line) => `${JSON.stringify(line)}\n`).join(""))
          } else if (json === undefined) response.writeHead(status).end()
          else response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(json))
        })
        const close = () =>
          new Promise<void>((done) => {
            server.close(() => done())
            server.closeAllConnections()
          })
        server.listen(0, "127.0.0.1", () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, close }))
      })
    ),
    (scripted) => Effect.promise(scripted.close)
  )
