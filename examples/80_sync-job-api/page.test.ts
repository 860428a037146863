/**
 * The example's browser page, in headless Chromium: a sync started from the
 * form shows its progress and its result, the job list shows it, and its
 * Delete button removes it — through `@chainjobs/client` loaded as a plain
 * browser module, against the real service on the seeded dev chain.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium } from "playwright-core"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import { type Service, type Site, startService, startSite } from "./site.ts"

const executablePath = "/usr/bin/chromium"
const hasChromium = existsSync(executablePath)
if (!hasChromium) console.warn(`page.test.ts: skipped, ${executablePath} is not installed (apt-get install chromium)`)

describe.skipIf(!hasChromium)("the sync page", () => {
  let scope: Scope.Closeable
  let service: Service
  let site: Site
  let token: string

  beforeAll(async () => {
    scope = await Effect.runPromise(Scope.make())
    const context = await Effect.runPromise(Layer.buildWithScope(DevChain.layer(), scope))
    const chain = Context.get(context, DevChain.DevChain)
    token = (await Effect.runPromise(DevSeed.seed({ rounds: 10 }).pipe(Effect.provide(Layer.succeedContext(context))))).token
    service = await startService(chain.url)
    site = await startSite(service, { chain: "dev", address: token })
  }, 120_000)

  afterAll(async () => {
    await site?.close()
    await service?.stop()
    await Effect.runPromise(Scope.close(scope, Exit.void))
  })

  it("starts a sync from the form, shows its progress and result, lists it and deletes it", async () => {
    const profile = mkdtempSync(join(tmpdir(), "chainjobs-chromium-"))
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-sync"]
    })
    try {
      const page = browser.pages()[0] ?? await browser.newPage()
      const failures: Array<string> = []
      page.on("pageerror", (error) => failures.push(String(error)))
      await page.goto(site.url)
      await page.waitForSelector("body[data-ready=true]")
      await page.fill("#blocks-back", "20")
      await page.click("#sync")
      await page.waitForFunction(`document.getElementById("result").textContent !== ""`, undefined, { timeout: 60_000 })
      expect(await page.textContent("#result")).toMatch(/^\d+ Transfer events in blocks \d+\.\.\d+$/)
      expect(await page.textContent("#status")).toMatch(/^completed 100%/)
      expect(await page.getAttribute("#progress", "value")).toBe("100")
      expect(await page.textContent("#error")).toBe("")
      const rows = page.locator("#jobs tr")
      // The list is polled: it shows the job completed at the latest a second after the store has it.
      await page.waitForFunction(`[...document.querySelectorAll("#jobs tr .status")].map((cell) => cell.textContent).join() === "completed"`)
      expect(await rows.count()).toBe(1)
      await rows.first().locator(".delete").click()
      await page.waitForFunction(`document.querySelectorAll("#jobs tr").length === 0`)
      const listed: any = await (await fetch(`${service.baseUrl}/api/tasks?kind=chain/sync-events`)).json()
      expect(listed.items).toEqual([])
      expect(failures).toEqual([])
    } finally {
      await browser.close()
      rmSync(profile, { recursive: true, force: true })
    }
  }, 120_000)
})
