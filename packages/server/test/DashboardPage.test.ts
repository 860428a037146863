/**
 * The dashboard page as a browser first fetches it: `GET /` answers the page shipped beside `Dashboard.ts`,
 * byte for byte, as HTML. The service is built inside the test (the page's route is added while the service
 * is built), so a mutation run attributes that code to this test. The page's behaviour is `Dashboard.test`'s
 * (headless Chromium).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as Dashboard from "../src/Dashboard.ts"
import { request, testServer } from "./http.ts"

describe("the dashboard page", () => {
  it.live("GET / answers the page beside Dashboard.ts, as HTML", () =>
    Effect.gen(function*() {
      const page = yield* request("GET", "/")
      assert.strictEqual(page.status, 200)
      assert.match(page.contentType, /^text\/html/)
      assert.strictEqual(page.text, readFileSync(fileURLToPath(Dashboard.pageUrl), "utf8"))
    }).pipe(Effect.provide(testServer())), 30_000)
})
