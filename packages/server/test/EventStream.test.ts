/**
 * Server-sent event streams as `EventSource` clients meet them: a task's
 * stream ends with the id `end`, and reconnecting with it answers 204, which
 * stops a real `EventSource` (Chromium's) after one connection; streams are
 * not cached and idle ones get keep-alive comments, from one timer that runs
 * only while a stream is open.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium } from "playwright-core"
import { keepAliveMillis } from "../src/RestServer.ts"
import * as SseKeepAlive from "../src/SseKeepAlive.ts"
import { baseUrl, request, sseData, testServer } from "./http.ts"

const executablePath = "/usr/bin/chromium"

/** Resolves once `condition` holds, checking every 10 ms. */
const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((wake) => setTimeout(wake, 10))
}

/** Sends a request with headers, answering status, headers and body text. */
const fetchText = (path: string, headers: Record<string, string> = {}) =>
  Effect.flatMap(baseUrl, (base) =>
    Effect.promise(async () => {
      const response = await fetch(base + path, { headers })
      return { status: response.status, headers: response.headers, text: await response.text() }
    }))

layer(testServer(), { excludeTestServices: true })("event streams", (it) => {
  it.effect("a finished task's stream ends with the id `end`; reconnecting with it answers 204, with another the record", () =>
    Effect.gen(function*() {
      const done = yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: { fromBlock: 1, toBlock: 2, delayMillis: 0 } })
      const first = yield* fetchText(`/api/tasks/${done.body.id}/events`)
      assert.strictEqual(first.status, 200)
      assert.strictEqual(first.headers.get("cache-control"), "no-cache")
      assert.match(first.text, /id: end\n\n$/)
      assert.strictEqual(sseData(first.text).at(-1).status, "completed")
      const ended = yield* fetchText(`/api/tasks/${done.body.id}/events`, { "last-event-id": "end" })
      assert.strictEqual(ended.status, 204)
      const resumed = yield* fetchText(`/api/tasks/${done.body.id}/events`, { "last-event-id": "feed-1" })
      assert.strictEqual(sseData(resumed.text).at(-1).status, "completed")
      const all = yield* Effect.flatMap(baseUrl, (base) =>
        Effect.promise(async () => {
          const controller = new AbortController()
          const response = await fetch(`${base}/api/events`, { signal: controller.signal })
          controller.abort()
          return response.headers.get("cache-control")
        }))
      assert.strictEqual(all, "no-cache")
    }))

  // The first comment comes at the timer's second tick after the stream opened (the first only looks: `SseKeepAlive`
  // comments a stream silent for a whole interval), about two intervals in: the bound leaves two more.
  it.effect("an idle stream gets keep-alive comments", () =>
    Effect.gen(function*() {
      const running = yield* request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 0, toBlock: 1000, delayMillis: 60_000 } })
      const base = yield* baseUrl
      const comment = yield* Effect.promise(async () => {
        const controller = new AbortController()
        const response = await fetch(`${base}${running.body.eventsUrl}`, { signal: controller.signal })
        const reader = response.body!.getReader()
        let text = ""
        while (!text.includes("\n: ")) text += new TextDecoder().decode((await reader.read()).value)
        controller.abort()
        return text.slice(text.indexOf("\n: ") + 1)
      })
      assert.match(comment, /^: keep-alive\n\n/)
      yield* request("DELETE", `/api/tasks/${running.body.taskId}`)
    }), keepAliveMillis * 4)

  it.effect("open event streams share one keep-alive timer, stopped when the last one closes", () =>
    Effect.gen(function*() {
      const running = yield* request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 0, toBlock: 1000, delayMillis: 60_000 } })
      const base = yield* baseUrl
      assert.deepStrictEqual(SseKeepAlive.stats(), { streams: 0, ticking: false })
      const controllers = Array.from({ length: 3 }, () => new AbortController())
      const paths = [running.body.eventsUrl, running.body.eventsUrl, "/api/events"]
      // Each stream open, its first event read: its response is followed.
      yield* Effect.promise(() =>
        Promise.all(paths.map(async (path, i) => {
          const response = await fetch(base + path, { signal: controllers[i]!.signal })
          await response.body!.getReader().read()
        })))
      assert.deepStrictEqual(SseKeepAlive.stats(), { streams: 3, ticking: true })
      controllers[0]!.abort()
      controllers[2]!.abort()
      yield* Effect.promise(() => until(() => SseKeepAlive.stats().streams === 1))
      assert.isTrue(SseKeepAlive.stats().ticking)
      controllers[1]!.abort()
      yield* Effect.promise(() => until(() => SseKeepAlive.stats().streams === 0))
      assert.isFalse(SseKeepAlive.stats().ticking)
      yield* request("DELETE", `/api/tasks/${running.body.taskId}`)
    }))

  it.effect.skipIf(!existsSync(executablePath))("Chromium's EventSource reads a task's records on one connection and stops", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const task = yield* request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 1, toBlock: 4, delayMillis: 50 } })
      const seen = yield* Effect.acquireUseRelease(
        Effect.promise(async () => {
          const profile = mkdtempSync(join(tmpdir(), "chainjobs-chromium-"))
          const browser = await chromium.launchPersistentContext(profile, {
            executablePath,
            headless: true,
            args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
          })
          return { browser, profile }
        }),
        ({ browser }) =>
          Effect.promise(async () => {
            const page = browser.pages()[0] ?? await browser.newPage()
            await page.goto(`${base}/healthz`)
            return page.evaluate((url) =>
              new Promise<{ opens: number; statuses: Array<string>; lastEventId: string }>((resolve) => {
                const source = new EventSource(url)
                const seen = { opens: 0, statuses: [] as Array<string>, lastEventId: "" }
                source.onopen = () => seen.opens++
                source.onmessage = (event) => {
                  seen.statuses.push(JSON.parse(event.data).status)
                  seen.lastEventId = event.lastEventId
                }
                source.onerror = () => {
                  if (source.readyState === EventSource.CLOSED) resolve(seen)
                }
              }), task.body.eventsUrl)
          }),
        ({ browser, profile }) => Effect.promise(() => browser.close().finally(() => rmSync(profile, { recursive: true, force: true })))
      )
      assert.strictEqual(seen.opens, 1)
      assert.strictEqual(seen.statuses.at(-1), "completed")
      assert.notStrictEqual(seen.lastEventId, "")
    }), 60_000)
})
