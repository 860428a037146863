import { assert, describe, layer } from "@effect/vitest"
import { Effect, Layer, Redacted } from "effect"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { chromium, type Page } from "playwright-core"
import { DevChain } from "@chainjobs/devchain"
import { SqlTaskStore } from "@chainjobs/store-sql"
import { TaskStore } from "@chainjobs/tasks"
import { baseUrl, request, testServer } from "./http.ts"

const executablePath = "/usr/bin/chromium"
const hasChromium = existsSync(executablePath)
if (!hasChromium) console.warn(`Dashboard.test.ts: skipped, ${executablePath} is not installed (apt-get install chromium)`)

/** A fresh headless Chromium page, closed (with its profile) when the scope closes. */
const browserPage = Effect.acquireRelease(
  Effect.promise(async () => {
    const profile = mkdtempSync(join(tmpdir(), "chainjobs-chromium-"))
    const context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      viewport: { width: 1400, height: 800 },
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync"
      ]
    })
    return { context, profile, page: context.pages()[0] ?? await context.newPage() }
  }),
  ({ context, profile }) => Effect.promise(() => context.close().finally(() => rmSync(profile, { recursive: true, force: true })))
)

const row = (page: Page, id: string) => page.locator(`tr[data-task-id="${id}"]`)
/** Waits until the task's row shows progress strictly between `above` and `below`. */
const progressBetween = (page: Page, id: string, above: number, below: number) =>
  page.waitForFunction(`(() => {
    const cell = document.querySelector('tr[data-task-id="${id}"] td[data-progress]')
    const progress = cell === null ? NaN : Number(cell.dataset.progress)
    return progress > ${above} && progress < ${below}
  })()`)
const progressOf = (page: Page, id: string) =>
  row(page, id).locator("td[data-progress]").getAttribute("data-progress").then(Number)

describe.skipIf(!hasChromium)("dashboard in headless Chromium", () => {
  layer(testServer(), { excludeTestServices: true, timeout: "120 seconds" })("dashboard", (it) => {
    it.effect("submits a scan and shows its progress bar move, interrupts another task, shows results", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const { page } = yield* browserPage
        const victim = yield* request("POST", "/api/tasks/demo-scan", {
          body: { fromBlock: 0, toBlock: 1_000_000, delayMillis: 1000 }
        })
        yield* Effect.promise(async () => {
          // Interrupting asks for a confirmation: accept it.
          page.on("dialog", (dialog) => dialog.accept())
          await page.goto(`${base}/`)
          await page.locator("#live.on").waitFor()
          await row(page, victim.body.taskId).waitFor()

          // Submit a scan through the form; the page selects it.
          await page.selectOption("#submit-kind", "demo-scan")
          await page.fill("#submit-payload", JSON.stringify({ fromBlock: 1, toBlock: 30, delayMillis: 60 }))
          await page.click("#submit-button")
          const scanId = (await page.locator("#detail-body code").textContent({ timeout: 0 }))!
          assert.notStrictEqual(scanId, victim.body.taskId)

          // Its bar moves: seen part-way, then further along, then full.
          await progressBetween(page, scanId, 0, 80)
          const early = await progressOf(page, scanId)
          await progressBetween(page, scanId, early, 101)
          assert.match(await row(page, scanId).locator(".bar > div").getAttribute("style") ?? "", /width: \d+%/)

          // Interrupt the other task from its row; its status changes live.
          await page.screenshot({ path: join(tmpdir(), "chainjobs-dashboard-running.png") })
          await row(page, victim.body.taskId).locator('button[data-action="interrupt"]').click()
          await page.locator(`tr[data-task-id="${victim.body.taskId}"][data-status="interrupted"]`).waitFor()
          assert.strictEqual(await row(page, victim.body.taskId).locator('button[data-action="interrupt"]').count(), 0)

          // The scan completes; its detail view shows the result.
          await page.locator(`tr[data-task-id="${scanId}"][data-status="completed"]`).waitFor({ timeout: 0 })
          assert.strictEqual(await progressOf(page, scanId), 100)
          await row(page, scanId).click()
          const detail = await page.locator("#detail-body").textContent()
          assert.include(detail, "Result")
          assert.include(detail, '"blocks": 30')

          // Filters narrow the table.
          await page.selectOption("#filter-status", "interrupted")
          await page.locator(`tr[data-task-id="${scanId}"]`).waitFor({ state: "detached" })
          assert.strictEqual(await row(page, victim.body.taskId).count(), 1)
          await page.selectOption("#filter-status", "")
          await row(page, scanId).waitFor()

          // A rejected payload is explained next to the form.
          await page.fill("#submit-payload", JSON.stringify({ fromBlock: "x", toBlock: 1, delayMillis: 0 }))
          await page.click("#submit-button")
          await page.locator("#submit-error", { hasText: "fromBlock" }).waitFor()
          await page.screenshot({ path: join(tmpdir(), "chainjobs-dashboard.png") })
        })
        const server = yield* request("GET", `/api/tasks/${victim.body.taskId}`)
        assert.strictEqual(server.body.status, "interrupted")
      }), { timeout: 120_000 })

    it.effect("at 390 px the list fits the screen; a deep link opens a task's detail with its times and actions", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const { page } = yield* browserPage
        const done = yield* request("POST", "/api/tasks/demo-fail?wait=true", { body: { steps: 1, delayMillis: 0 } })
        const id = done.body.id
        yield* Effect.promise(async () => {
          page.on("dialog", (dialog) => dialog.accept())
          await page.setViewportSize({ width: 390, height: 844 })
          await page.goto(`${base}/#task=${id}`)
          await page.locator("#live.on").waitFor()
          await row(page, id).waitFor()
          await page.locator('#detail-body [data-part="Created"]', { hasText: /^\d{4}-\d\d-\d\dT/ }).waitFor()
          assert.strictEqual(await page.locator('#detail-body [data-part="Task"]').textContent(), id)
          assert.include(await page.locator('#detail-body [data-part="Error"]').textContent(), "gave up after 1 steps")
          await page.screenshot({ path: join(tmpdir(), "chainjobs-dashboard-390.png"), fullPage: true })
          const widths: { page: number; table: number } = await page.evaluate(`({
            page: document.documentElement.scrollWidth,
            table: document.querySelector("section .table-wrap").getBoundingClientRect().right
          })`)
          assert.isAtMost(widths.page, 390)
          assert.isAtMost(widths.table, 390)
          await page.screenshot({ path: join(tmpdir(), "chainjobs-dashboard-390.png"), fullPage: true })

          // The detail is updated in place: a part's node survives a redraw.
          await page.evaluate(`document.querySelector('[data-part="Payload"]').marker = true`)
          await page.waitForTimeout(1500)
          assert.isTrue(await page.evaluate(`document.querySelector('[data-part="Payload"]').marker === true`))

          // Re-run submits the same kind and payload as a new task, and selects it.
          await page.click('#detail-body button[data-action="retry"]')
          await page.waitForFunction(`location.hash !== "#task=${id}"`)
          const rerun = decodeURIComponent(await page.evaluate<string>(`location.hash.slice("#task=".length)`))
          await row(page, rerun).waitFor()

          // Delete, confirmed, removes the first task.
          await page.goto(`${base}/#task=${id}`)
          await page.locator('#detail-body button[data-action="delete"]').click()
          await page.locator("#detail-body", { hasText: `Deleted ${id}` }).waitFor()
          await page.setViewportSize({ width: 1366, height: 800 })
          await page.screenshot({ path: join(tmpdir(), "chainjobs-dashboard-1366.png") })
        })
        assert.strictEqual((yield* request("GET", `/api/tasks/${id}`)).status, 404)
      }), { timeout: 120_000 })
  })
})

describe.skipIf(!hasChromium)("the dashboard's hostile links and token prompt in headless Chromium", () => {
  layer(testServer({ authTokens: { alice: Redacted.make("alice-token") } }), { excludeTestServices: true, timeout: "120 seconds" })(
    "links",
    (it) => {
      it.effect("a link cut inside an escape (#task=%E0%A4%A) leaves the page working; the token is asked for once", () =>
        Effect.gen(function*() {
          const base = yield* baseUrl
          const { page } = yield* browserPage
          const task = yield* request("POST", "/api/tasks/demo-scan", {
            token: "alice-token",
            body: { fromBlock: 1, toBlock: 1, delayMillis: 0 }
          })
          yield* Effect.promise(async () => {
            const prompts: Array<string> = []
            page.on("dialog", (dialog) => {
              prompts.push(dialog.message())
              return dialog.accept("alice-token")
            })
            // An error thrown by the page's script fails the test at once (it stopped the page: nothing more comes).
            const thrown = new Promise<never>((_, reject) => page.on("pageerror", reject))
            await page.goto(`${base}/#task=%E0%A4%A`)
            // The page runs on: its kinds loaded, its event stream open, its list read.
            await Promise.race([page.locator("#live.on.ready").waitFor({ timeout: 0 }), thrown])
            await row(page, task.body.taskId).waitFor({ timeout: 0 })
            assert.isAbove(await page.locator("#submit-kind option").count(), 0)
            await page.locator("#detail-body", { hasText: "No task %E0%A4%A" }).waitFor({ timeout: 0 })
            // Kinds, watchers, balances and the linked task were each refused 401 at once: one prompt answered them all.
            assert.deepStrictEqual(prompts, ["This server needs a bearer token:"])
          })
        }), { timeout: 120_000 })
    }
  )
})

describe.skipIf(!hasChromium)("the docs page in headless Chromium", () => {
  layer(testServer(), { excludeTestServices: true, timeout: "120 seconds" })("docs", (it) => {
    it.effect("shows each kind's submit operation with its body, bearer authentication in the examples, and loads nothing from outside", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const { page } = yield* browserPage
        const text = yield* Effect.promise(async () => {
          const outside: Array<string> = []
          page.on("request", (request) => {
            if (!request.url().startsWith(base) && !request.url().startsWith("data:")) outside.push(request.url())
          })
          await page.goto(`${base}/docs`)
          await page.getByText("Submit a demo-scan task").first().waitFor()
          await page.getByText("Authorization: Bearer").first().waitFor()
          assert.deepStrictEqual(outside, [])
          return page.evaluate<string>("document.body.innerText")
        })
        assert.notInclude(text, "Authorization: Basic")
        assert.include(text, "Submit a demo-fail task")
        assert.notInclude(text, "/api/tasks/{kind}")
        assert.match(text, /"fromBlock": 1/)
      }), { timeout: 120_000 })
  })
})

describe.skipIf(!hasChromium)("dashboard with 370 tasks in headless Chromium", () => {
  layer(testServer({ devChain: true }), { excludeTestServices: true, timeout: "120 seconds" })("paging, counts, search, bulk actions", (it) => {
    it.effect("pages through the server by cursor, counts by status, finds a task by id, interrupts and deletes a filtered set, prefills every kind", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const { page } = yield* browserPage
        const submit = (kind: string, body: unknown, wait = true) =>
          Effect.map(request("POST", `/api/tasks/${kind}${wait ? "?wait=true" : ""}`, { body }), (reply) => reply.body.id ?? reply.body.taskId)
        const done = yield* Effect.forEach(Array.from({ length: 300 }), () => submit("demo-scan", { fromBlock: 1, toBlock: 1, delayMillis: 0 }), { concurrency: 20 })
        yield* Effect.forEach(Array.from({ length: 60 }), () => submit("demo-fail", { steps: 1, delayMillis: 0 }), { concurrency: 20 })
        yield* Effect.forEach(Array.from({ length: 10 }), () => submit("demo-scan", { fromBlock: 0, toBlock: 1_000_000, delayMillis: 1000 }, false))
        const kinds: ReadonlyArray<{ name: string; example: unknown }> = (yield* request("GET", "/api/kinds")).body
        const counts = (yield* request("GET", "/api/counts")).body
        const total = Object.values<number>(counts).reduce((a, b) => a + b, 0)
        assert.isAtLeast(total, 370)

        const found = yield* Effect.promise(async () => {
          page.on("dialog", (dialog) => dialog.accept())
          await page.setViewportSize({ width: 1366, height: 800 })
          await page.goto(`${base}/`)
          await page.locator("#live.ready").waitFor()
          assert.strictEqual(await page.locator("#tasks tr").count(), 50)
          assert.strictEqual(await page.locator("#page-info").textContent(), `1–50 of ${total}`)
          assert.strictEqual(await page.locator('#filter-status option[value="failed"]').textContent(), "failed (60)")
          assert.include(await page.locator("#stats-text").textContent(), `50 shown of ${total}`)
          await page.screenshot({ path: join(tmpdir(), "chainjobs-dashboard-370-1366.png") })

          // Every task once, page after page, newest first, through the server's cursors.
          const ids: Array<string> = []
          for (;;) {
            const rows = await page.locator("#tasks tr").evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-task-id")!))
            ids.push(...rows)
            if (await page.locator("#page-next").isDisabled()) break
            await page.click("#page-next")
            await page.waitForFunction(`document.querySelector("#tasks tr")?.dataset.taskId !== ${JSON.stringify(rows[0])}`)
          }
          assert.strictEqual(ids.length, total)
          assert.strictEqual(new Set(ids).size, total)
          assert.deepStrictEqual(ids, [...ids].sort().reverse())
          await page.click("#page-prev")
          await page.locator("#page-info", { hasText: `${total - (total % 50 || 50) - 49}–` }).waitFor()

          // Search by id: the oldest task's detail opens, with its URL.
          await page.fill("#search-id", done[0])
          await page.click('#search-form button[type="submit"]')
          await page.locator('#detail-body [data-part="Task"]', { hasText: done[0] }).waitFor()
          assert.strictEqual(await page.evaluate("location.hash"), `#task=${done[0]}`)
          await page.fill("#search-id", "no-such-task")
          await page.click('#search-form button[type="submit"]')
          await page.locator("#search-error", { hasText: "No task no-such-task" }).waitFor()

          // Bulk delete of the failed ones, confirmed.
          await page.selectOption("#filter-status", "failed")
          await page.locator("#page-info", { hasText: "1–50 of 60" }).waitFor()
          await page.click("#bulk-delete")
          await page.locator("#bulk-status", { hasText: "Deleted 60 failed tasks" }).waitFor({ timeout: 30_000 })
          await page.locator('#filter-status option[value="failed"]', { hasText: "failed (0)" }).waitFor({ state: "attached" })
          assert.strictEqual(await page.locator("#tasks tr").count(), 0)

          // Bulk interrupt of the unfinished demo scans.
          await page.selectOption("#filter-status", "")
          await page.selectOption("#filter-kind", "demo-scan")
          await page.locator('#filter-status option[value="running"]', { hasText: /running \(\d+\)/ }).waitFor({ state: "attached" })
          await page.click("#bulk-interrupt")
          await page.locator("#bulk-status", { hasText: "Interrupted 10 unfinished tasks of kind demo-scan" }).waitFor({ timeout: 30_000 })
          await page.locator('#filter-status option[value="interrupted"]', { hasText: "interrupted (10)" }).waitFor({ state: "attached" })

          // The submit form's prefill is each kind's example; the dev chain's scan runs as it stands.
          for (const kind of kinds) {
            await page.selectOption("#submit-kind", kind.name)
            assert.deepStrictEqual(JSON.parse(await page.locator("#submit-payload").inputValue()), kind.example, kind.name)
          }
          await page.selectOption("#submit-kind", "chain/scan-addresses")
          const before = await page.evaluate<string>("location.hash")
          await page.click("#submit-button")
          await page.waitForFunction(`location.hash !== ${JSON.stringify(before)}`)
          const submitted = decodeURIComponent(await page.evaluate<string>(`location.hash.slice("#task=".length)`))
          await page.locator('#detail-body [data-part="Task"]', { hasText: submitted }).waitFor()
          assert.strictEqual(await page.locator('#detail-body [data-part="Kind"]').textContent(), "chain/scan-addresses")
          await page.locator('#detail-body [data-part="Status"]', { hasText: "completed" }).waitFor({ timeout: 60_000 })
          assert.include(await page.locator('#detail-body [data-part="Result"]').textContent(), "transactionHash")
          await page.screenshot({ path: join(tmpdir(), "chainjobs-dashboard-370-1366-after.png"), fullPage: true })

          await page.setViewportSize({ width: 390, height: 844 })
          await page.selectOption("#filter-kind", "")
          await page.locator("#page-info", { hasText: "1–50 of" }).waitFor()
          const width: number = await page.evaluate("document.documentElement.scrollWidth")
          assert.isAtMost(width, 390)
          await page.screenshot({ path: join(tmpdir(), "chainjobs-dashboard-370-390.png"), fullPage: true })
          return ids
        })
        assert.strictEqual(found.length, total)
        const after = (yield* request("GET", "/api/counts?kind=demo-fail")).body
        assert.strictEqual(after.failed, 0)
        assert.strictEqual((yield* request("GET", "/api/counts?kind=demo-scan")).body.running, 0)
      }), { timeout: 120_000 })
  })
})

describe.skipIf(!hasChromium)("dashboard watch panel in headless Chromium", () => {
  const watcher = { name: "dev-panel", chain: "dev", processor: "chainjobs.watch.record", accounts: [DevChain.accounts[1]!.address], confirmations: 1, startBlock: 1 }
  layer(testServer({ devChain: true, watchers: [watcher] }), { excludeTestServices: true, timeout: "60 seconds" })("watch panel", (it) => {
    it.effect("shows the watchers with their lag, and a balance looked up", () =>
      Effect.gen(function*() {
        const base = yield* baseUrl
        const { page } = yield* browserPage
        yield* Effect.promise(async () => {
          await page.goto(`${base}/`)
          const row = page.locator('#watchers tr[data-watcher="dev-panel"]')
          await row.waitFor({ timeout: 0 })
          assert.isFalse(await page.locator("#watch-panel").isHidden())
          assert.strictEqual(await row.locator("td").nth(1).textContent(), "dev")
          await page.fill("#balance-account", DevChain.accounts[9]!.address)
          await page.click('#balance-form button[type="submit"]')
          await page.waitForFunction(`document.getElementById("balance-result").textContent.startsWith("10000000000000000000000 ")`)
          // the looked-up balance is listed among the cached ones
          await page.locator(`#balances tr[data-account="${DevChain.accounts[9]!.address.toLowerCase()}"]`).waitFor({ timeout: 0 })
        })
        // 25 more cached balances: the list shows 20, and the next page the rest
        for (let i = 0; i < 25; i++) {
          const account = `0x${(0xba1a0000 + i).toString(16).padStart(40, "0")}`
          assert.strictEqual((yield* request("GET", `/api/watch/balances/dev/${account}/native`)).status, 200)
        }
        yield* Effect.promise(async () => {
          await page.waitForFunction(`document.querySelectorAll("#balances tr").length === 20 && !document.getElementById("balances-next").disabled`)
          await page.click("#balances-next")
          await page.waitForFunction(`document.querySelectorAll("#balances tr").length === 6`)
          await page.click("#balances-first")
          await page.waitForFunction(`document.querySelectorAll("#balances tr").length === 20`)
        })
      }), { timeout: 60_000 })
  })
})

describe.skipIf(!hasChromium)("dashboard over a cluster runner's records in headless Chromium", () => {
  const id = "0190a0b0-0000-7000-8000-000000000001"
  const runner = "10.0.0.7:34432"
  // A data directory holding a task a runner of a cluster ran (the record says which), served by a single process.
  const seeded = Layer.unwrap(Effect.gen(function*() {
    const dataDir = mkdtempSync(join(tmpdir(), "chainjobs-dashboard-runner-"))
    yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dataDir, { recursive: true, force: true })))
    yield* Effect.flatMap(TaskStore.TaskStore, (store) =>
      store.insert({
        id, kind: "demo-scan", status: "completed", reason: null, priority: 0, key: null, owner: null, attempt: 2,
        progress: 100, message: null, detail: null, payload: { blocks: 3 }, result: { blocks: 3 }, error: null,
        errorMessage: null, checkpoint: null, createdAt: 1_700_000_000_000, startedAt: 1_700_000_000_100,
        finishedAt: 1_700_000_000_900, heartbeatAt: 1_700_000_000_900, expiresAt: null, runner
      })).pipe(
        Effect.provide(SqlTaskStore.layerSqlite({ filename: join(dataDir, "chainjobs.db") }), { local: true }),
        Effect.orDie
      )
    return testServer({ dataDir })
  }))
  layer(seeded, { excludeTestServices: true, timeout: "120 seconds" })("runner", (it) => {
    it.effect("a task's detail names the runner that ran it, as its REST record does", () =>
      Effect.gen(function*() {
        assert.strictEqual((yield* request("GET", `/api/tasks/${id}`)).body.runner, runner)
        const base = yield* baseUrl
        const { page } = yield* browserPage
        yield* Effect.promise(async () => {
          await page.goto(`${base}/#task=${id}`)
          await page.locator('#detail-body [data-part="Runner"]').waitFor({ timeout: 0 })
          assert.strictEqual(await page.locator('#detail-body [data-part="Runner"]').textContent(), runner)
        })
      }), { timeout: 120_000 })
  })
})
