/**
 * The coalescing writer's end-of-turn passes, bounded: over writers that
 * record what reaches each socket, on a clock that each send moves on and
 * with the passes run one at a time by the test (no timer, no real time), a
 * pass sends to sockets, in the order they were first written, until its
 * budget is spent; the sockets left go first in the next pass; every line
 * reaches its socket once, in the order written, the lines written to a
 * socket still waiting joining its message.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as CoalescedWriter from "../src/internal/coalescedWriter.ts"

/**
 * `sockets` coalescing writers sharing one `EndOfTurn` of `budgetMillis`, each send moving the clock on by
 * `sendMillis`; what each socket was sent, message by message; the passes scheduled and not yet run.
 */
const setup = (sockets: number, budgetMillis: number, sendMillis: number) => {
  let clock = 0
  const scheduled: Array<() => void> = []
  const endOfTurn = new CoalescedWriter.EndOfTurn(budgetMillis, () => clock, (pass) => void scheduled.push(pass))
  const sent: Array<Array<string>> = Array.from({ length: sockets }, () => [])
  const writers = sent.map((messages) =>
    CoalescedWriter.make("turn", endOfTurn)({
      write: (chunk) =>
        Effect.sync(() => {
          clock += sendMillis
          messages.push(typeof chunk === "string" ? chunk : "not text")
        }),
      writeAll: () => Effect.void
    })
  )
  const write = (socket: number, line: string) => Effect.runSync(writers[socket].write(line))
  /** Runs the one pass scheduled; the sockets it sent to. */
  const pass = (): Array<number> => {
    assert.strictEqual(scheduled.length, 1, "one pass is scheduled")
    const before = sent.map((messages) => messages.length)
    scheduled.shift()!()
    return before.flatMap((count, socket) => sent[socket].length > count ? [socket] : [])
  }
  return { sent, write, pass, scheduled }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i)

describe("CoalescedWriter passes", () => {
  it("a pass sends to sockets until its budget is spent; the rest go first in the next pass, their later lines joining them", () => {
    // 1 ms a send, 8 ms a pass: 8 sockets a pass.
    const { pass, scheduled, sent, write } = setup(20, 8, 1)
    for (const socket of range(0, 20)) write(socket, `${socket}a\n`)
    assert.deepStrictEqual(pass(), range(0, 8))
    // Socket 3 was sent to: its next line waits behind the others. Socket 10 waits: its next line joins its first.
    write(3, "3b\n")
    write(10, "10b\n")
    assert.deepStrictEqual(pass(), range(8, 16))
    assert.deepStrictEqual(pass(), [3, 16, 17, 18, 19])
    assert.strictEqual(scheduled.length, 0, "no pass once every socket is sent to")
    assert.deepStrictEqual(sent[3], ["3a\n", "3b\n"])
    assert.deepStrictEqual(sent[10], ["10a\n10b\n"])
    for (const socket of range(0, 20)) if (socket !== 3 && socket !== 10) assert.deepStrictEqual(sent[socket], [`${socket}a\n`])
  })

  it("a pass sends to one socket at least, however long that send takes", () => {
    const { pass, scheduled, write } = setup(3, 8, 20)
    for (const socket of range(0, 3)) write(socket, "x\n")
    assert.deepStrictEqual(pass(), [0])
    assert.deepStrictEqual(pass(), [1])
    assert.deepStrictEqual(pass(), [2])
    assert.strictEqual(scheduled.length, 0)
  })

  it.prop(
    "any writes and passes: each pass sends to the sockets waiting longest, as many as its budget holds; every line reaches its socket once, in order",
    {
      budgetMillis: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 24 })),
      sendMillis: Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 9 })),
      // A socket's number to write a line to, or -1: run the pass scheduled (if any).
      steps: Schema.Array(Schema.Int.check(Schema.isBetween({ minimum: -1, maximum: 11 })))
    },
    ({ budgetMillis, sendMillis, steps }) => {
      const { pass, scheduled, sent, write } = setup(12, budgetMillis, sendMillis)
      const perPass = Math.ceil(budgetMillis / sendMillis)
      // The model: the sockets waiting, in the order they were first written since last sent to, and their lines.
      let waiting: Array<number> = []
      const queued = new Map<number, string>()
      const expected: Array<Array<string>> = sent.map(() => [])
      const runModelPass = () => {
        const taken = waiting.slice(0, perPass)
        waiting = waiting.slice(perPass)
        for (const socket of taken) {
          expected[socket].push(queued.get(socket)!)
          queued.delete(socket)
        }
        return taken
      }
      const written: Array<Array<string>> = sent.map(() => [])
      steps.forEach((step, index) => {
        if (step === -1) {
          if (waiting.length === 0) assert.strictEqual(scheduled.length, 0, "no pass without a socket waiting")
          else assert.deepStrictEqual(pass(), [...runModelPass()].sort((a, b) => a - b))
          return
        }
        const line = `${step}:${index}\n`
        write(step, line)
        written[step].push(line)
        if (!queued.has(step)) waiting.push(step)
        queued.set(step, (queued.get(step) ?? "") + line)
      })
      while (waiting.length > 0) assert.deepStrictEqual(pass(), [...runModelPass()].sort((a, b) => a - b))
      assert.strictEqual(scheduled.length, 0)
      assert.deepStrictEqual(sent, expected)
      sent.forEach((messages, socket) => assert.strictEqual(messages.join(""), written[socket].join(""), `socket ${socket}`))
    }
  )
})
