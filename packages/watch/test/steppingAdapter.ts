/**
 * The EVM adapter of the test runtime's chain `dev`, wrapped for fault
 * injection in the watchers' tests: its scan reads a range block by block,
 * saving each block's items through the scan's progress (as Sui's catch-up
 * saves pages), and records each call; a failure can be injected at a chosen
 * block, a hook can run before each range is scanned, and a block's parent
 * hash can be answered wrong (a provider that lies). Everything else is the
 * real adapter on the real dev chain.
 */
import { Effect } from "effect"
import { type BlockRef, type ChainAdapter, ChainAdapters, type Detected } from "../src/ChainAdapter.ts"
import { chainFailed, type WatchError } from "../src/WatchError.ts"
import * as Watchers from "../src/Watchers.ts"

/** One call of the stepping scan: its range, the keys it was handed as saved, and the blocks it read from the chain. */
export interface ScanCall {
  readonly from: number
  readonly to: number
  readonly saved: ReadonlyArray<string>
  readonly read: Array<number>
}

/** What a test sets to inject faults; each is used once, then cleared. */
export interface Faults {
  /** The read of this block fails (once). */
  failAt: number | undefined
  /** Block references of this block answer a parent hash of no block (once). */
  unlinkedAt: number | undefined
  /** A read of block references that asks for this block fails (once): a tick then fails after its range's scan. */
  refsFailAt: number | undefined
  /** Runs before the scan of a range (every time, while set). */
  beforeScan: ((from: number, to: number) => Effect.Effect<void, WatchError>) | undefined
}

/** The adapter wrapped; `calls`, `blockReads` (the numbers asked of each `blocks` call) and `fault` to read and set. */
export const stepping = (inner: ChainAdapter) => {
  const calls: Array<ScanCall> = []
  const blockReads: Array<ReadonlyArray<number>> = []
  const fault: Faults = { failAt: undefined, unlinkedAt: undefined, refsFailAt: undefined, beforeScan: undefined }
  const adapter: ChainAdapter = {
    ...inner,
    blocks: (numbers) =>
      Effect.map(Effect.andThen(Effect.suspend(() => {
        blockReads.push([...numbers])
        if (fault.refsFailAt === undefined || !numbers.includes(fault.refsFailAt)) return Effect.void
        const block = fault.refsFailAt
        fault.refsFailAt = undefined
        return Effect.fail(chainFailed(inner.chain)({ message: `injected failure reading block ${block}'s reference` }))
      }), inner.blocks(numbers)), (refs) =>
        refs.map((ref): BlockRef => {
          if (ref.number !== fault.unlinkedAt) return ref
          fault.unlinkedAt = undefined
          return { ...ref, parentHash: `0x${"ba".repeat(32)}` }
        })),
    scan: (filter, from, to, progress) =>
      Effect.gen(function*() {
        if (fault.beforeScan !== undefined) yield* fault.beforeScan(from, to)
        const call: ScanCall = { from, to, saved: Array.from(progress?.saved.keys() ?? []).sort(), read: [] }
        calls.push(call)
        const found: Array<Detected> = []
        for (let block = from; block <= to; block++) {
          const kept = progress?.saved.get(`block/${block}`) as ReadonlyArray<Detected> | undefined
          if (kept !== undefined) {
            found.push(...kept)
            continue
          }
          if (fault.failAt === block) {
            fault.failAt = undefined
            return yield* Effect.fail(chainFailed(inner.chain)({ message: `injected failure at block ${block}` }))
          }
          const items = yield* inner.scan(filter, block, block)
          call.read.push(block)
          if (progress !== undefined) yield* progress.save([[`block/${block}`, items]])
          found.push(...items)
        }
        return found
      })
  }
  return { adapter, blockReads, calls, fault }
}

/** Watchers on the current runtime (its tables and supervisor) whose chain `dev` is scanned by the stepping adapter; they stop with the scope. */
export const steppingWatchers = (options: Partial<Watchers.WatchersConfig> = {}) =>
  Effect.gen(function*() {
    const inner = yield* (yield* ChainAdapters).adapter("dev")
    const stepper = stepping(inner)
    const watchers = yield* Watchers.make({ maxRange: 1000, ...options }).pipe(
      Effect.provideService(ChainAdapters, ChainAdapters.of({ adapter: () => Effect.succeed(stepper.adapter) }))
    )
    return { ...stepper, watchers }
  })
