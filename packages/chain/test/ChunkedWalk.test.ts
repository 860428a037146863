/**
 * The range walk of the chain's range kinds (`internal/chunked.ts`) on its
 * own, in memory: a scripted chain whose blocks can be replaced from any
 * number on, and a task context that records what the walk saves and
 * reports. The chunks read, the checkpoints (their links bounded by
 * `linkWindow`, none once the state passes `maxSize`), the progress, a resumed
 * walk, a reorganization seen at a chunk's parent or at the range's end,
 * and the wait for confirmations (on the test clock).
 */
import { assert, describe, it } from "@effect/vitest"
import type { TaskContext } from "@chainjobs/tasks"
import { Effect, Fiber, Logger, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as Chunked from "../src/internal/chunked.ts"

/** The state of a test walk: every block number read, in the order read. */
type Read = ReadonlyArray<number>

/**
 * A chain of blocks numbered from 0 whose hashes name their version: `reorganize(from)` replaces every block from
 * `from` on (a new version), as a reorganization of the chain does.
 */
const scriptedChain = () => {
  const versions = new Map<number, number>()
  const hash = (number: number) => `0x${number}v${versions.get(number) ?? 0}`
  return {
    hash,
    reorganize: (from: number) => {
      for (let number = from; number < 1000; number++) versions.set(number, (versions.get(number) ?? 0) + 1)
    }
  }
}

/** A task context recording the checkpoints saved, the progress reported and the heartbeats; `resumed` is its last checkpoint. */
const recordingContext = (resumed?: Chunked.Checkpoint<Read>) => {
  const checkpoints: Array<Chunked.Checkpoint<Read>> = []
  const progress: Array<readonly [number, string | undefined]> = []
  let heartbeats = 0
  const context: TaskContext.Typed<Chunked.Checkpoint<Read>, unknown> = {
    taskId: "walk",
    attempt: 1,
    heartbeat: Effect.sync(() => {
      heartbeats++
    }),
    progress: (percent, message) => Effect.sync(() => void progress.push([percent, message])),
    checkpoint: (state) => Effect.sync(() => void checkpoints.push(state)),
    lastCheckpoint: Effect.succeed(Option.fromUndefinedOr(resumed))
  }
  return { context, checkpoints, progress, heartbeats: () => heartbeats }
}

/** The messages logged at level Info while `effect` runs, and its result. */
const logged = <A, E, R>(effect: Effect.Effect<A, E, R>) => {
  const lines: Array<string> = []
  const capture = Logger.make<unknown, void>(({ logLevel, message }) => {
    if (logLevel === "Info") lines.push(String(Array.isArray(message) ? message[0] : message))
  })
  return Effect.map(effect.pipe(Effect.provide(Logger.layer([capture]))), (result) => ({ result, lines }))
}

/**
 * A walk of `fromBlock`–`toBlock` over a scripted chain of its own, its state the numbers read, in a recording
 * context (resumed from `resumed` when given): each step records its chunk in `steps` and then runs
 * `after(stepIndex, chain)` (a reorganization, say). Linked (`hashOf`, `rewind`) unless told not.
 */
const walkOver = (
  options: {
    readonly fromBlock: number
    readonly toBlock: number
    readonly chunkSize: number
    /** Whether `hashOf` and `rewind` are given (default), one of them alone, or neither. */
    readonly linked?: boolean | "hashOf only" | "rewind only"
    /** Whether step number `n` (from 1) tells its chunk's last hash. Default: every one does. */
    readonly tellsLast?: (step: number) => boolean
    readonly after?: (step: number, chain: ReturnType<typeof scriptedChain>) => void
    /** The context's last checkpoint. Default: none. */
    readonly resumed?: Chunked.Checkpoint<Read>
  } & Partial<Pick<Chunked.Walk<Read, never, never>, "maxSize" | "confirmations" | "head" | "pollInterval" | "size">>
) => {
  const chain = scriptedChain()
  const recorded = recordingContext(options.resumed)
  const steps: Array<readonly [number, number]> = []
  const { after, linked = true, resumed: _resumed, tellsLast = () => true, ...rest } = options
  const walk = Chunked.walk<Read, never, never>({
    ...rest,
    initial: [],
    context: recorded.context,
    step: (state, from, to) =>
      Effect.suspend(() => {
        // a walk that goes round in circles fails rather than hanging the test
        if (steps.length === 100) return Effect.die(new Error(`the walk does not end: ${JSON.stringify(steps)}`))
        const read = Array.from({ length: to - from + 1 }, (_, index) => from + index)
        steps.push([from, to])
        const step = {
          state: [...state, ...read],
          parentHash: chain.hash(from - 1),
          lastHash: tellsLast(steps.length) ? chain.hash(to) : undefined
        }
        after?.(steps.length, chain)
        return Effect.succeed(step)
      }),
    describe: (state, to) => `${state.length} read up to ${to}`,
    ...(linked === true || linked === "hashOf only" ? { hashOf: (number: number) => Effect.sync(() => chain.hash(number)) } : {}),
    ...(linked === true || linked === "rewind only" ? { rewind: (state: Read, from: number) => state.filter((n) => n < from) } : {})
  })
  return { walk, steps, chain, recorded }
}

/** The numbers `from`–`to`. */
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index)

describe("a chunked range walk", () => {
  it.effect("reads the range in chunks, saving a checkpoint and reporting progress after each", () =>
    Effect.gen(function*() {
      const { walk, steps, recorded } = walkOver({ fromBlock: 10, toBlock: 34, chunkSize: 10 })
      const state = yield* walk
      assert.deepStrictEqual(steps, [[10, 19], [20, 29], [30, 34]])
      assert.deepStrictEqual(state, range(10, 34))
      assert.deepStrictEqual(recorded.checkpoints, [
        { lastBlock: 19, state: range(10, 19), links: [{ number: 19, hash: "0x19v0" }] },
        { lastBlock: 29, state: range(10, 29), links: [{ number: 19, hash: "0x19v0" }, { number: 29, hash: "0x29v0" }] },
        {
          lastBlock: 34,
          state: range(10, 34),
          links: [{ number: 19, hash: "0x19v0" }, { number: 29, hash: "0x29v0" }, { number: 34, hash: "0x34v0" }]
        }
      ])
      assert.deepStrictEqual(recorded.progress, [[40, "10 read up to 19"], [80, "20 read up to 29"], [100, "25 read up to 34"]])
      assert.strictEqual(recorded.heartbeats(), 0)
    }))

  it.effect("resumes after its last checkpoint, with its state and links", () =>
    Effect.gen(function*() {
      const { walk, steps, recorded } = walkOver({
        fromBlock: 0,
        toBlock: 29,
        chunkSize: 10,
        resumed: { lastBlock: 19, state: [-1], links: [{ number: 19, hash: "0x19v0" }] }
      })
      assert.deepStrictEqual(yield* walk, [-1, ...range(20, 29)])
      assert.deepStrictEqual(steps, [[20, 29]])
      assert.deepStrictEqual(recorded.checkpoints, [
        { lastBlock: 29, state: [-1, ...range(20, 29)], links: [{ number: 19, hash: "0x19v0" }, { number: 29, hash: "0x29v0" }] }
      ])
      // progress counts from the range's first block, not the resumed one
      assert.deepStrictEqual(recorded.progress, [[100, "11 read up to 29"]])
    }))

  it.effect("resumed from a checkpoint without links (an earlier version), remembers none: a fork is read from the start", () =>
    Effect.gen(function*() {
      const { walk, steps, chain, recorded } = walkOver({
        fromBlock: 0,
        toBlock: 29,
        chunkSize: 10,
        resumed: { lastBlock: 19, state: range(0, 19) }
      })
      chain.reorganize(15)
      // the resumed walk knows no hash of block 19, so block 20's parent cannot mismatch; the end check passes
      assert.deepStrictEqual(yield* walk, range(0, 29))
      assert.deepStrictEqual(steps, [[20, 29]])
      assert.deepStrictEqual(recorded.checkpoints[0]!.links, [{ number: 29, hash: "0x29v1" }])
    }))

  it.effect("reads again from the last chunk end still on the chain when a chunk does not follow the one before", () =>
    Effect.gen(function*() {
      const { walk, steps, recorded } = walkOver({
        fromBlock: 0,
        toBlock: 39,
        chunkSize: 10,
        after: (step, chain) => step === 3 && chain.reorganize(25)
      })
      const { lines, result } = yield* logged(walk)
      assert.deepStrictEqual(steps, [[0, 9], [10, 19], [20, 29], [30, 39], [20, 29], [30, 39]])
      assert.deepStrictEqual(result, range(0, 39))
      assert.deepStrictEqual(lines, ["chainjobs: the chain reorganized; reading again from block 20"])
      // the chunk that did not follow saved nothing; the links after the fork are the new chain's
      assert.deepStrictEqual(recorded.checkpoints.map((checkpoint) => checkpoint.lastBlock), [9, 19, 29, 29, 39])
      assert.deepStrictEqual(recorded.checkpoints[3], {
        lastBlock: 29,
        state: range(0, 29),
        links: [{ number: 9, hash: "0x9v0" }, { number: 19, hash: "0x19v0" }, { number: 29, hash: "0x29v1" }]
      })
      assert.deepStrictEqual(recorded.progress.map(([percent]) => percent), [25, 50, 75, 75, 100])
    }))

  it.effect("checks at the end that the range's last block is still on the chain, and reads the replaced chunks again", () =>
    Effect.gen(function*() {
      const { walk, steps, recorded } = walkOver({
        fromBlock: 0,
        toBlock: 29,
        chunkSize: 10,
        after: (step, chain) => step === 3 && chain.reorganize(25)
      })
      const { lines, result } = yield* logged(walk)
      assert.deepStrictEqual(steps, [[0, 9], [10, 19], [20, 29], [20, 29]])
      assert.deepStrictEqual(result, range(0, 29))
      assert.deepStrictEqual(lines, ["chainjobs: the chain reorganized; reading again from block 20"])
      assert.deepStrictEqual(recorded.checkpoints.at(-1)!.links!.at(-1), { number: 29, hash: "0x29v1" })
    }))

  it.effect("starts the range over when no remembered chunk end is still on the chain", () =>
    Effect.gen(function*() {
      const { walk, steps } = walkOver({
        fromBlock: 3,
        toBlock: 22,
        chunkSize: 10,
        after: (step, chain) => step === 2 && chain.reorganize(4)
      })
      const { lines, result } = yield* logged(walk)
      assert.deepStrictEqual(steps, [[3, 12], [13, 22], [3, 12], [13, 22]])
      assert.deepStrictEqual(result, range(3, 22))
      assert.deepStrictEqual(lines, ["chainjobs: the chain reorganized; reading again from block 3"])
    }))

  it.effect(`remembers the last ${Chunked.linkWindow} chunk ends`, () =>
    Effect.gen(function*() {
      const { walk, recorded } = walkOver({ fromBlock: 0, toBlock: Chunked.linkWindow + 5, chunkSize: 1 })
      yield* walk
      const links = recorded.checkpoints.at(-1)!.links!
      assert.strictEqual(links.length, Chunked.linkWindow)
      assert.deepStrictEqual(links[0], { number: 6, hash: "0x6v0" })
      assert.deepStrictEqual(links.at(-1), { number: Chunked.linkWindow + 5, hash: `0x${Chunked.linkWindow + 5}v0` })
    }))

  it.effect("saves no checkpoint once the state is larger than maxSize, and says so once", () =>
    Effect.gen(function*() {
      const { walk, recorded } = walkOver({
        fromBlock: 0,
        toBlock: 49,
        chunkSize: 10,
        linked: false,
        size: (state) => state.length,
        maxSize: 20
      })
      const { lines, result } = yield* logged(walk)
      assert.deepStrictEqual(result, range(0, 49))
      // a state of exactly maxSize is still saved
      assert.deepStrictEqual(recorded.checkpoints.map((checkpoint) => checkpoint.lastBlock), [9, 19])
      assert.deepStrictEqual(lines, ["chainjobs: no more checkpoints after block 19: 30 items > 20"])
      assert.strictEqual(recorded.progress.length, 5)
    }))

  it.effect("with maxSize but no size, counts the state as empty: every checkpoint is saved", () =>
    Effect.gen(function*() {
      const { walk, recorded } = walkOver({ fromBlock: 0, toBlock: 19, chunkSize: 10, linked: false, maxSize: 0 })
      yield* walk
      assert.deepStrictEqual(recorded.checkpoints.map((checkpoint) => checkpoint.lastBlock), [9, 19])
    }))

  it.effect("reads a chunk only once its last block has the confirmations, heartbeating while it polls the head", () =>
    Effect.gen(function*() {
      let head = 5
      const { walk, steps, recorded } = walkOver({
        fromBlock: 0,
        toBlock: 9,
        chunkSize: 5,
        confirmations: 3,
        head: Effect.sync(() => head),
        pollInterval: "10 millis"
      })
      const fiber = yield* Effect.forkChild(walk)
      yield* TestClock.adjust("30 millis")
      // block 4 has 2 confirmations at head 5: nothing read yet, a heartbeat per poll
      assert.deepStrictEqual(steps, [])
      assert.strictEqual(recorded.heartbeats(), 4)
      head = 6 // block 4 now has 3 (head − block + 1)
      yield* TestClock.adjust("10 millis")
      assert.deepStrictEqual(steps, [[0, 4]])
      head = 11
      yield* TestClock.adjust("10 millis")
      assert.deepStrictEqual(yield* Fiber.join(fiber), range(0, 9))
      assert.deepStrictEqual(steps, [[0, 4], [5, 9]])
    }))

  it.effect("polls the head every second by default, and reads at once a chunk already confirmed", () =>
    Effect.gen(function*() {
      let head = 6
      const { walk, steps, recorded } = walkOver({
        fromBlock: 0,
        toBlock: 9,
        chunkSize: 5,
        confirmations: 3,
        head: Effect.sync(() => head)
      })
      const fiber = yield* Effect.forkChild(walk)
      yield* TestClock.adjust("0 millis")
      // block 4 has exactly its 3 confirmations at head 6: read without waiting; block 9 waits
      assert.deepStrictEqual(steps, [[0, 4]])
      assert.strictEqual(recorded.heartbeats(), 1)
      head = 11
      yield* TestClock.adjust("999 millis")
      assert.deepStrictEqual(steps, [[0, 4]])
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.join(fiber), range(0, 9))
    }))

  it.effect("without a head to poll, does not wait for confirmations", () =>
    Effect.gen(function*() {
      const { walk, steps, recorded } = walkOver({ fromBlock: 0, toBlock: 4, chunkSize: 5, confirmations: 3 })
      assert.deepStrictEqual(yield* walk, range(0, 4))
      assert.deepStrictEqual(steps, [[0, 4]])
      assert.strictEqual(recorded.heartbeats(), 0)
    }))

  it.effect("reads again from the first chunk end remembered when it alone is still on the chain", () =>
    Effect.gen(function*() {
      const { walk, steps } = walkOver({
        fromBlock: 0,
        toBlock: 39,
        chunkSize: 10,
        after: (step, chain) => step === 3 && chain.reorganize(15)
      })
      const { lines, result } = yield* logged(walk)
      assert.deepStrictEqual(steps, [[0, 9], [10, 19], [20, 29], [30, 39], [10, 19], [20, 29], [30, 39]])
      assert.deepStrictEqual(result, range(0, 39))
      assert.deepStrictEqual(lines, ["chainjobs: the chain reorganized; reading again from block 10"])
    }))

  it.effect("checks a chunk's parent only against the block just before it: a chunk whose last hash is unknown links nothing", () =>
    Effect.gen(function*() {
      const { walk, steps, recorded } = walkOver({
        fromBlock: 0,
        toBlock: 29,
        chunkSize: 10,
        tellsLast: (step) => step !== 2
      })
      assert.deepStrictEqual(yield* walk, range(0, 29))
      assert.deepStrictEqual(steps, [[0, 9], [10, 19], [20, 29]])
      assert.deepStrictEqual(recorded.checkpoints.at(-1)!.links, [{ number: 9, hash: "0x9v0" }, { number: 29, hash: "0x29v0" }])
    }))

  // linked takes both: given neither, or one alone, no links are saved and a chunk that does not follow the last is taken
  for (const given of [false, "hashOf only", "rewind only"] as const) {
    it.effect(`is not linked given ${given === false ? "neither hashOf nor rewind" : given.replace(" only", " alone")}`, () =>
      Effect.gen(function*() {
        const { walk, steps, recorded } = walkOver({
          fromBlock: 0,
          toBlock: 19,
          chunkSize: 10,
          linked: given,
          after: (step, chain) => step === 1 && chain.reorganize(5)
        })
        assert.deepStrictEqual(yield* walk, range(0, 19))
        assert.deepStrictEqual(steps, [[0, 9], [10, 19]])
        assert.deepStrictEqual(recorded.checkpoints, [{ lastBlock: 9, state: range(0, 9) }, { lastBlock: 19, state: range(0, 19) }])
      }))
  }

  it.effect("going back drops the replaced chunk ends from its links: a walk of one-block chunks links each block once", () =>
    Effect.gen(function*() {
      const { walk, steps, recorded } = walkOver({
        fromBlock: 0,
        toBlock: 5,
        chunkSize: 1,
        after: (step, chain) => step === 4 && chain.reorganize(3)
      })
      assert.deepStrictEqual(yield* walk, range(0, 5))
      assert.deepStrictEqual(steps, [[0, 0], [1, 1], [2, 2], [3, 3], [4, 4], [3, 3], [4, 4], [5, 5]])
      assert.deepStrictEqual(
        recorded.checkpoints.at(-1)!.links,
        range(0, 5).map((number) => ({ number, hash: `0x${number}v${number < 3 ? 0 : 1}` }))
      )
    }))

  it.effect("without confirmations, never reads the head", () =>
    Effect.gen(function*() {
      let heads = 0
      const { walk } = walkOver({
        fromBlock: 0,
        toBlock: 19,
        chunkSize: 10,
        head: Effect.sync(() => ++heads)
      })
      assert.deepStrictEqual(yield* walk, range(0, 19))
      assert.strictEqual(heads, 0)
    }))

  it.effect("resumed at the range's end from a checkpoint without links, is done: nothing read, nothing checked", () =>
    Effect.gen(function*() {
      const { walk, steps, recorded } = walkOver({ fromBlock: 0, toBlock: 19, chunkSize: 10, resumed: { lastBlock: 19, state: [7] } })
      assert.deepStrictEqual(yield* walk, [7])
      assert.deepStrictEqual(steps, [])
      assert.deepStrictEqual(recorded.checkpoints, [])
    }))

  it("a checkpoint's Schema keeps the last block, the state and the links, which a checkpoint of an earlier version lacks", () => {
    const schema = Chunked.Checkpoint(Schema.Array(Schema.Number))
    const current = { lastBlock: 19, state: [1, 2], links: [{ number: 19, hash: "0x19v0" }] }
    assert.deepStrictEqual(Schema.decodeUnknownSync(schema)(current), current)
    assert.deepStrictEqual(Schema.encodeSync(schema)(current), current)
    assert.deepStrictEqual(Schema.decodeUnknownSync(schema)({ lastBlock: 19, state: [1, 2] }), { lastBlock: 19, state: [1, 2] })
    assert.throws(() => Schema.decodeUnknownSync(schema)({ state: [1, 2] }))
    assert.throws(() => Schema.decodeUnknownSync(schema)({ lastBlock: 19, state: ["1"] }))
    assert.throws(() => Schema.decodeUnknownSync(schema)({ lastBlock: 19, state: [], links: [{ number: 19 }] }))
  })
})
