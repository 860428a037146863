/**
 * The served OpenAPI document passes a public linter: Redocly CLI's `lint`
 * with its recommended rules finds no error (run as a child process on the
 * document the server answers).
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { request, testServer } from "./http.ts"

const redocly = createRequire(import.meta.url).resolve("@redocly/cli/bin/cli.js")

layer(testServer(), { excludeTestServices: true })("the OpenAPI document", (it) => {
  it.effect("passes Redocly's recommended rules without an error", () =>
    Effect.gen(function*() {
      const spec = (yield* request("GET", "/openapi.json")).body
      const report = yield* Effect.acquireUseRelease(
        Effect.sync(() => mkdtempSync(join(tmpdir(), "chainjobs-openapi-"))),
        (dir) =>
          Effect.promise(() => {
            const file = join(dir, "openapi.json")
            writeFileSync(file, JSON.stringify(spec))
            return new Promise<{ totals: { errors: number; warnings: number }; problems: Array<any> }>((resolve, reject) =>
              execFile(
                process.execPath,
                [redocly, "lint", "--extends", "recommended", "--format", "json", file],
                { cwd: dir, env: { ...process.env, REDOCLY_TELEMETRY: "off", REDOCLY_SUPPRESS_UPDATE_NOTICE: "true" } },
                (_error, stdout) => {
                  try {
                    resolve(JSON.parse(stdout.slice(stdout.indexOf("{"))))
                  } catch (cause) {
                    reject(cause)
                  }
                }
              )
            )
          }),
        (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
      )
      const errors = report.problems.filter((problem) => problem.severity === "error").map((problem) => problem.message)
      assert.deepStrictEqual(errors, [])
      assert.strictEqual(report.totals.errors, 0)
    }), 60_000)
})
