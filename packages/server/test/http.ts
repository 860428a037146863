/** Helpers for talking to a server under test over real HTTP on 127.0.0.1. */
import { Duration, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { TasksConfig } from "@chainjobs/tasks"
import * as Server from "../src/Server.ts"
import * as ServerConfig from "../src/ServerConfig.ts"

/** The whole service on a free port, with the given settings. */
export const testServer = (settings: Partial<ServerConfig.ServerSettings> = {}) =>
  Server.layer.pipe(Layer.provide(ServerConfig.layerTest({ port: 0, dataDir: ":memory:", devChain: false, tasks: TasksConfig.make({ shutdownGracePeriod: Duration.seconds(1) }), ...settings })))

/** The base URL of the server under test. */
export const baseUrl = Effect.map(HttpServer.HttpServer, (server) => HttpServer.formatAddress(server.address))

/** A response: status, headers and the body parsed as JSON when it is JSON. */
export interface Reply {
  readonly status: number
  readonly contentType: string
  readonly body: any
  readonly text: string
  readonly headers: Headers
}

/** Sends one request to the server under test. */
export const request = (method: string, path: string, options: { body?: unknown; token?: string } = {}) =>
  Effect.flatMap(baseUrl, (base) =>
    Effect.promise(async (): Promise<Reply> => {
      const headers: Record<string, string> = {}
      if (options.body !== undefined) headers["content-type"] = "application/json"
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
      const response = await fetch(base + path, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
      })
      const text = await response.text()
      const contentType = response.headers.get("content-type") ?? ""
      return {
        status: response.status,
        contentType,
        text,
        headers: response.headers,
        body: contentType.includes("json") ? JSON.parse(text) : undefined
      }
    }))

/** The `data` of every server-sent event in a body, parsed as JSON. */
export const sseData = (text: string): Array<any> =>
  text.split("\n\n").flatMap((event) => {
    const data = event.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).trim())
    return data.length === 0 ? [] : [JSON.parse(data.join("\n"))]
  })

/**
 * A server-sent event stream being read: its status, every event so far, and a way to wait for one. A request
 * answered with anything but an event stream (a refusal) has its status and its body, and no events.
 */
export interface EventFeed {
  /** The response's status. */
  readonly status: number
  /** A refused stream's body, parsed as JSON when it is JSON; undefined for an event stream. */
  readonly body: unknown
  /** Every event received so far, parsed. */
  readonly received: ReadonlyArray<any>
  /** Resolves with the first event (received or to come) that satisfies `predicate`; rejects if the stream ends first. */
  until(predicate: (event: any) => boolean): Promise<any>
  /** Resolves when the stream has ended. */
  readonly ended: Promise<void>
  /** Aborts the request: the client goes without a word. */
  readonly close: () => void
}

/** Opens a server-sent event stream with `fetch` (with the request headers given) and parses its events as they arrive. */
export const openEvents = async (url: string, options: { readonly headers?: Record<string, string> } = {}): Promise<EventFeed> => {
  const controller = new AbortController()
  const response = await fetch(url, { signal: controller.signal, ...(options.headers === undefined ? {} : { headers: options.headers }) })
  const received: Array<any> = []
  if (response.headers.get("content-type")?.startsWith("text/event-stream") !== true) {
    const text = await response.text()
    const body = (response.headers.get("content-type") ?? "").includes("json") ? JSON.parse(text) : text
    const refused = () => Promise.reject(new Error(`no event stream: ${response.status}`))
    return { status: response.status, body, received, until: refused, ended: Promise.resolve(), close: () => {} }
  }
  const waiters = new Set<{ predicate: (event: any) => boolean; resolve: (event: any) => void; reject: (e: Error) => void }>()
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  const ended = (async () => {
    let buffer = ""
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        buffer += value
        const events = buffer.split("\n\n")
        buffer = events.pop() ?? ""
        for (const event of sseData(events.join("\n\n"))) {
          received.push(event)
          for (const waiter of waiters) {
            if (waiter.predicate(event)) {
              waiters.delete(waiter)
              waiter.resolve(event)
            }
          }
        }
      }
    } catch {
      // aborted by `close`, or cut by the server
    }
    for (const waiter of waiters) waiter.reject(new Error("the event stream ended first"))
  })()
  return {
    status: response.status,
    body: undefined,
    received,
    until: (predicate) => {
      const found = received.find(predicate)
      if (found !== undefined) return Promise.resolve(found)
      return new Promise((resolve, reject) => waiters.add({ predicate, resolve, reject }))
    },
    ended,
    close: () => controller.abort()
  }
}
