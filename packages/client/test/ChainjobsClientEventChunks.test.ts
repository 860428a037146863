import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { ChainjobsClient, type TaskRecord } from "../src/index.ts"
import { taskRecord } from "./taskRecords.ts"

/**
 * The client's reading of an event stream however the network cuts it: the
 * same stream, its bytes split in two at every position, gives the same
 * records. The cut is the fault injected, so the answer comes from the
 * client's `fetch` option (a real socket decides its own cuts): a body that
 * delivers exactly the chunks given.
 */

/** A running task's record in the service's shape. */
const record = (progress: number, message: string): TaskRecord => taskRecord({ status: "running", progress, message })

/** The events' text: each record's JSON over several `data:` lines (pretty-printed), after an `event:` line, every line ended by `ending`. */
const stream = (records: ReadonlyArray<TaskRecord>, ending: string) =>
  records.map((one) => {
    const lines = ["event: task", ...JSON.stringify(one, null, 1).split("\n").map((line) => `data: ${line}`)]
    return lines.map((line) => `${line}${ending}`).join("") + ending
  }).join("")

/** The records a client reads from an answer that delivers `chunks` one read at a time. */
const read = async (chunks: ReadonlyArray<Uint8Array>): Promise<Array<unknown>> => {
  const client = new ChainjobsClient({
    baseUrl: "http://127.0.0.1:9",
    fetch: async () => {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(chunk)
          controller.close()
        }
      })
      return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } })
    }
  })
  const got: Array<unknown> = []
  for await (const one of client.events("t1")) got.push(one)
  return got
}

/** Two records' stream in CRLF lines, and the place just after the CR that ends the first record's `data: {` line. */
const cutAfterCr = () => {
  const bytes = new TextEncoder().encode(stream([record(10, "a"), record(20, "b")], "\r\n"))
  return { bytes, cut: new TextDecoder().decode(bytes).indexOf("data: {\r\n") + "data: {\r".length }
}

describe("ChainjobsClient.events, an event stream cut anywhere", () => {
  it("a CRLF cut between its CR and its LF inside a record's data lines ends no event early", async () => {
    const { bytes, cut } = cutAfterCr()
    // after the CR ending `data: {`: read as two line ends, the blank line would end the event at its first data line
    expect(bytes[cut]).toBe(10)
    expect(await read([bytes.slice(0, cut), bytes.slice(cut)])).toEqual([record(10, "a"), record(20, "b")])
  })

  it("a read that opens with a CRLF's LF and ends inside a line keeps the LF as that CRLF's half", async () => {
    const { bytes, cut } = cutAfterCr()
    // three reads: the middle one is the LF and the next line's first bytes, so it neither starts nor ends a line of its own
    expect(await read([bytes.slice(0, cut), bytes.slice(cut, cut + 4), bytes.slice(cut + 4)])).toEqual([
      record(10, "a"),
      record(20, "b")
    ])
  })

  it.live.prop(
    "any stream of records, in CRLF, LF or CR lines, split in two at every byte, reads as the records",
    {
      progress: Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 100 }))).check(Schema.isBetweenLength(1, 2)),
      message: Schema.String.check(Schema.isMaxLength(8)),
      ending: Schema.Literals(["\r\n", "\n", "\r"])
    },
    ({ ending, message, progress }) =>
      Effect.promise(async () => {
        const records = progress.map((value) => record(value, message))
        const bytes = new TextEncoder().encode(stream(records, ending))
        for (let cut = 0; cut <= bytes.length; cut++) {
          expect(await read([bytes.slice(0, cut), bytes.slice(cut)]), `cut at byte ${cut} of ${JSON.stringify(stream(records, ending))}`)
            .toEqual(records)
        }
      }),
    { timeout: 60_000, arbitrary: { runs: 20 } }
  )
})
