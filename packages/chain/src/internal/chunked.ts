/**
 * The loop of a task that walks a block range in chunks: it starts after the
 * last checkpoint (if any), folds each chunk into its state, reports progress
 * and saves `{ lastBlock, state, links }` (through the kind's typed handler
 * context) after every chunk, so a resumed or
 * retried run continues where the last one stopped and never repeats a chunk.
 *
 * A linked walk (given `hashOf` and `rewind`) stays on one chain across
 * chunks: each chunk's first block must be the child of the last block read
 * before it, and once the range is done its last block must still be on the
 * chain. When either fails (the chain reorganized), the walk looks for the
 * last chunk end still on the chain, drops from its state what the blocks
 * after it contributed, and reads them again; when no remembered chunk end is
 * still on the chain, it starts the range over. With `confirmations`, a chunk
 * is read only once its last block is that deep (head − block + 1 ≥
 * confirmations), so that what is reported is not near the head.
 *
 * A state that grows with what is found (a list) makes every checkpoint
 * rewrite it all: with `size` and `maxSize`, no checkpoint is saved once the
 * state is larger than `maxSize`, so a checkpoint stays bounded and a resumed
 * or retried run starts again after the last one saved (later chunks are read
 * again, none is skipped or counted twice).
 */
import { Duration, Effect, Option, Schema } from "effect"
import type { TaskContext } from "@chainjobs/tasks"

/** A chunk's last block, as read. */
export const Link = Schema.Struct({ number: Schema.Int, hash: Schema.String })
/** A chunk's last block, as read. */
export type Link = typeof Link.Type

/** How many chunk ends a linked walk remembers, and so how far back it looks for the block a reorganization forked at. */
export const linkWindow = 64

/**
 * The checkpoint of a range walk whose state has the given Schema: the last
 * block done, the state after it, and the last chunk ends read (linked walks;
 * absent from checkpoints of earlier versions).
 */
export const Checkpoint = <S extends Schema.Codec<any, any, never, never>>(state: S) =>
  Schema.Struct({ lastBlock: Schema.Int, state, links: Schema.optional(Schema.Array(Link)) })

/** A decoded checkpoint of a walk. */
export interface Checkpoint<S> {
  readonly lastBlock: number
  readonly state: S
  readonly links?: ReadonlyArray<Link> | undefined
}

/** What a step did: the new state, and for a linked walk the chunk's first parent hash and last hash. */
export interface Step<S> {
  readonly state: S
  readonly parentHash?: string | undefined
  readonly lastHash?: string | undefined
}

/** The walk of one range. */
export interface Walk<S, E, R> {
  readonly fromBlock: number
  readonly toBlock: number
  readonly chunkSize: number
  readonly initial: S
  /** The running task's context, typed by its kind (whose checkpoint Schema is `Checkpoint(state)`). */
  readonly context: TaskContext.Typed<Checkpoint<S>, any>
  /** Folds blocks `from`–`to` into the state. */
  readonly step: (state: S, from: number, to: number) => Effect.Effect<Step<S>, E, R>
  /** The progress message after a chunk. */
  readonly describe: (state: S, to: number) => string
  /** The state's size, for `maxSize`. */
  readonly size?: ((state: S) => number) | undefined
  /** The largest state a checkpoint holds. Default: no limit. */
  readonly maxSize?: number | undefined
  /** Linked walks: the hash of the chain's block of that number now. */
  readonly hashOf?: ((number: number) => Effect.Effect<string, E, R>) | undefined
  /** Linked walks: the state without what the blocks from `from` on contributed. */
  readonly rewind?: ((state: S, from: number) => S) | undefined
  /** Confirmations a chunk's last block needs before the chunk is read. Default: none. */
  readonly confirmations?: number | undefined
  /** The chain's head, for `confirmations`. */
  readonly head?: Effect.Effect<number, E, R> | undefined
  /** How often the head is polled while waiting for confirmations. Default: 1 second. */
  readonly pollInterval?: Duration.Input | undefined
}

/** Walks the range; returns the final state. */
export const walk = <S, E, R>(options: Walk<S, E, R>): Effect.Effect<S, E, R> =>
  Effect.gen(function*() {
    const context = options.context
    const resumed = yield* context.lastCheckpoint
    let state = Option.isSome(resumed) ? resumed.value.state : options.initial
    let from = Option.isSome(resumed) ? resumed.value.lastBlock + 1 : options.fromBlock
    let links: ReadonlyArray<Link> = Option.isSome(resumed) ? resumed.value.links ?? [] : []
    const { hashOf, rewind } = options
    const linked = hashOf !== undefined && rewind !== undefined
    const total = options.toBlock - options.fromBlock + 1
    let stopped = false

    /** The first block to read again: the one after the last remembered chunk end still on the chain. */
    const forkPoint = Effect.gen(function*() {
      for (let index = links.length - 1; index >= 0; index--) {
        if ((yield* hashOf!(links[index]!.number)) === links[index]!.hash) return links[index]!.number + 1
      }
      return options.fromBlock
    })
    const goBack = Effect.gen(function*() {
      const fork = yield* forkPoint
      yield* Effect.logInfo(`chainjobs: the chain reorganized; reading again from block ${fork}`)
      state = rewind!(state, fork)
      links = links.filter((link) => link.number < fork)
      from = fork
    })

    const confirmed = (to: number) =>
      Effect.gen(function*() {
        if (options.confirmations === undefined || options.head === undefined) return
        while ((yield* options.head) - to + 1 < options.confirmations) {
          yield* context.heartbeat
          yield* Effect.sleep(options.pollInterval ?? "1 second")
        }
      })

    while (true) {
      while (from <= options.toBlock) {
        const to = Math.min(options.toBlock, from + options.chunkSize - 1)
        yield* confirmed(to)
        const step = yield* options.step(state, from, to)
        const previous = links.at(-1)
        if (linked && previous !== undefined && previous.number === from - 1 && step.parentHash !== previous.hash) {
          yield* goBack
          continue
        }
        state = step.state
        if (linked && step.lastHash !== undefined) links = [...links, { number: to, hash: step.lastHash }].slice(-linkWindow)
        const size = options.size?.(state) ?? 0
        if (options.maxSize === undefined || size <= options.maxSize) {
          yield* context.checkpoint({ lastBlock: to, state, ...(linked ? { links } : {}) })
        } else if (!stopped) {
          stopped = true
          yield* Effect.logInfo(`chainjobs: no more checkpoints after block ${from - 1}: ${size} items > ${options.maxSize}`)
        }
        yield* context.progress((to - options.fromBlock + 1) / total * 100, options.describe(state, to))
        from = to + 1
      }
      const last = links.at(-1)
      // the range's last block still on the chain: every block read before it is (each is its ancestor)
      if (!linked || last === undefined || (yield* hashOf(last.number)) === last.hash) return state
      yield* goBack
    }
  })
