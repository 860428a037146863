/**
 * Ctrl-C while `chainjobs submit --watch` follows a task: the command line
 * runs as a child process (a real SIGINT), the task stays running on the
 * server, the command says how to interrupt it and exits 130.
 */
import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { baseUrl, request, testServer } from "./http.ts"

const main = fileURLToPath(new URL("../src/main.ts", import.meta.url))

layer(testServer(), { excludeTestServices: true })("chainjobs CLI and Ctrl-C", (it) => {
  it.effect("Ctrl-C during submit --watch leaves the task running, says how to interrupt it and exits 130", () =>
    Effect.gen(function*() {
      const base = yield* baseUrl
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(process.execPath, [
            main,
            "--url",
            base,
            "submit",
            "demo-scan",
            "--payload",
            '{"fromBlock":0,"toBlock":1000000,"delayMillis":1000}',
            "--watch"
          ], { stdio: ["ignore", "pipe", "pipe"] })
        ),
        (child) => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL"))
      )
      const { code, stderr, stdout } = yield* Effect.promise(() =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
          let stdout = ""
          let stderr = ""
          child.stdout!.on("data", (chunk) => {
            stdout += chunk
            // The first progress line: the task is recorded and being followed.
            if (stdout.includes("[") && child.exitCode === null && !child.killed) child.kill("SIGINT")
          })
          child.stderr!.on("data", (chunk) => stderr += chunk)
          child.on("exit", (code) => resolve({ code, stdout, stderr }))
        })
      )
      const id = stdout.split("\n")[0]
      assert.strictEqual(code, 130)
      assert.include(stderr, `task ${id} keeps running on the server; stop it with: chainjobs interrupt ${id}`)
      const record = yield* request("GET", `/api/tasks/${id}`)
      assert.strictEqual(record.body.status, "running")
      yield* request("DELETE", `/api/tasks/${id}`)
    }), 60_000)
})
