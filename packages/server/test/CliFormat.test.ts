/**
 * What the `chainjobs` command prints of a task, without a server: a record
 * for a person (`status`: one field a line, times in ISO 8601, `-` when not
 * set, the error and the result only when there is one), the one-line form
 * under `list`'s header (reason beside the status, `done/total` while the
 * percent would read 0, the error message over the progress message), and the
 * progress bar `submit --watch` and `watch` draw. A command line that is
 * wrong (a value of the wrong type, a status that does not exist, a missing
 * argument, an unknown command) fails naming the problem before anything is
 * sent to a server.
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Console, Effect, Exit, Schema } from "effect"
import type { TaskInfo } from "@chainjobs/tasks"
import { record as storeRecord } from "@chainjobs/tasks/test/TaskStoreConformance"
import * as Cli from "../src/Cli.ts"

const created = Date.UTC(2026, 0, 2, 3, 4, 5, 6)

/** A record of kind `demo-scan`, as the server would send it, with `fields` over its defaults. */
const record = (fields: Partial<TaskInfo.TaskInfo> = {}): TaskInfo.TaskInfo =>
  storeRecord({ id: "01a23013-66c1-7000-9762-83e156076a62", kind: "demo-scan", status: "running", createdAt: created, ...fields })

describe("what the CLI prints of a task", () => {
  it("status: a completed record, one field a line, times in ISO 8601 and its result", () => {
    assert.deepStrictEqual(
      Cli.details(record({
        status: "completed",
        owner: "alice",
        attempt: 2,
        progress: 100,
        message: "block 4 of 4",
        result: { blocks: 4 },
        startedAt: created + 1000,
        finishedAt: created + 61_000
      })),
      [
        "id        01a23013-66c1-7000-9762-83e156076a62",
        "kind      demo-scan",
        "status    completed",
        "progress  100% block 4 of 4",
        "attempt   2",
        "owner     alice",
        "created   2026-01-02T03:04:05.006Z",
        "started   2026-01-02T03:04:06.006Z",
        "finished  2026-01-02T03:05:06.006Z",
        "result    {\"blocks\":4}"
      ]
    )
  })

  it("status: a failed record names its reason and error, has no result line; what is not set reads -", () => {
    const lines = Cli.details(record({ status: "failed", reason: "timeout", errorMessage: "timed out after 5000 ms", result: 7 }))
    assert.deepStrictEqual(lines.slice(2), [
      "status    failed (timeout)",
      "progress  0%",
      "attempt   1",
      "owner     -",
      "created   2026-01-02T03:04:05.006Z",
      "started   -",
      "finished  -",
      "error     timed out after 5000 ms"
    ])
    // Only a completed record has a result line, whatever the record holds.
    for (const status of ["pending", "running", "interrupted"] as const) {
      assert.isFalse(Cli.details(record({ status, result: 7 })).some((line) => line.startsWith("result")), status)
    }
  })

  it("list: one line a task under the header, columns padded to the header's", () => {
    const line = Cli.describe(record({ status: "failed", reason: "error", progress: 42.6, message: "step 3", errorMessage: "gave up" }))
    assert.strictEqual(
      line,
      [
        "01a23013-66c1-7000-9762-83e156076a62",
        "demo-scan".padEnd(20),
        "failed (error)".padEnd(20),
        "43%".padStart(8),
        "2026-01-02T03:04:05.006Z".padEnd(24),
        "gave up"
      ].join("  ")
    )
    assert.strictEqual(Cli.header, "ID                                    KIND                  STATUS                PROGRESS  CREATED                   MESSAGE")
    // Without an error the progress message is the last column; with neither it is empty.
    assert.isTrue(Cli.describe(record({ message: "step 3" })).endsWith("  step 3"))
    assert.isTrue(Cli.describe(record()).endsWith("2026-01-02T03:04:05.006Z  "))
    // A record without a reason shows its status alone.
    assert.strictEqual(Cli.describe(record()).split(/\s{2,}/)[2], "running")
  })

  it("progress reads done/total while the percent would read 0, else the rounded percent", () => {
    const progressOf = (fields: Partial<TaskInfo.TaskInfo>) => Cli.describe(record(fields)).split("  ").filter((part) => part !== "")[3]!.trim()
    assert.strictEqual(progressOf({ progress: 0.4, detail: { done: 3, total: 2000 } }), "3/2000")
    assert.strictEqual(progressOf({ progress: 1, detail: { done: 20, total: 2000 } }), "1%")
    assert.strictEqual(progressOf({ progress: 0.4, detail: { done: "3", total: 2000 } }), "0%")
    assert.strictEqual(progressOf({ progress: 0.4, detail: { done: 3 } }), "0%")
    assert.strictEqual(progressOf({ progress: 0.5, detail: null }), "1%")
    assert.deepStrictEqual(Cli.details(record({ progress: 0, detail: { done: 0, total: 5 } }))[3], "progress  0/5")
  })

  it("an unset time reads -, a set one ISO 8601", () => {
    assert.strictEqual(Cli.isoTime(null), "-")
    assert.strictEqual(Cli.isoTime(0), "1970-01-01T00:00:00.000Z")
  })

  it.effect.prop(
    "the progress bar: as many # of its width as the percent says, the rest dots, the percent, status and message",
    {
      progress: Schema.Number.check(Schema.isBetween({ minimum: 0, maximum: 100 })),
      width: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 80 })),
      message: Schema.NullOr(Schema.String)
    },
    ({ message, progress, width }) =>
      Effect.sync(() => {
        const bar = Cli.progressBar(record({ progress, message }), width)
        const filled = Math.round((progress / 100) * width)
        const percent = `${Math.round(progress)}%`.padStart(4)
        assert.strictEqual(bar, `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${percent} running${message === null ? "" : ` ${message}`}`)
      })
  )

  it("the progress bar is 30 wide unless told", () => {
    assert.strictEqual(Cli.progressBar(record({ progress: 50, status: "running" })), `[${"#".repeat(15)}${".".repeat(15)}]  50% running`)
  })
})

describe("a wrong command line", () => {
  /** Runs the command line against a port nothing listens on, capturing what it prints and writes as errors. */
  const run = (args: ReadonlyArray<string>) =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const capture = {
        ...globalThis.console,
        log: (...parts: Array<unknown>) => void lines.push(parts.join(" ")),
        error: (...parts: Array<unknown>) => void lines.push(parts.join(" "))
      }
      const exit = yield* Cli.run(["--url", "http://127.0.0.1:9", ...args]).pipe(
        Effect.provideService(Console.Console, capture),
        Effect.provide(NodeServices.layer),
        Effect.exit
      )
      return { exit, text: lines.join("\n") }
    })

  it.effect("fails naming the problem, and reaches for no server", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["submit", "demo-scan", "--retries", "x"], `Invalid value for flag --retries: "x"`],
        [["submit", "demo-scan", "--timeout-millis", "soon"], `Invalid value for flag --timeout-millis: "soon"`],
        [["list", "--limit", "abc"], `Invalid value for flag --limit: "abc"`],
        [["list", "--status", "bogus"], "bogus"],
        [["submit"], "Missing required argument: kind"],
        [["status"], "Missing required argument: id"],
        [["nosuch"], `Unknown subcommand "nosuch"`]
      ]
      for (const [args, problem] of cases) {
        const { exit, text } = yield* run(args)
        assert.isTrue(Exit.isFailure(exit), args.join(" "))
        assert.include(text, problem, args.join(" "))
        assert.notInclude(text, "cannot reach the server", args.join(" "))
      }
    }))
})
