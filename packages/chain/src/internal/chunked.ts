/**
 * The loop of a task that walks a block range in chunks: it starts after the
 * last checkpoint (if any), folds each chunk into its state, reports progress
 * and saves `{ lastBlock, state }` after every chunk, so a resumed or retried
 * run continues where the last one stopped and never repeats a chunk.
 *
 * A state that grows with what is found (a list) makes every checkpoint
 * rewrite it all: with `size` and `maxSize`, no checkpoint is saved once the
 * state is larger than `maxSize`, so a checkpoint stays bounded and a resumed
 * or retried run starts again after the last one saved (later chunks are read
 * again, none is skipped or counted twice).
 */
import { Effect, Option, Schema } from "effect"
import { TaskContext } from "@chainjobs/tasks"

/** The checkpoint of a range walk whose state has the given Schema: the last block done and the state after it. */
export const Checkpoint = <S extends Schema.Codec<any, any, never, never>>(state: S) =>
  Schema.Struct({ lastBlock: Schema.Int, state })

/** A decoded checkpoint of a walk. */
export interface Checkpoint<S> {
  readonly lastBlock: number
  readonly state: S
}

/** The walk of one range. */
export interface Walk<S, E, R> {
  readonly fromBlock: number
  readonly toBlock: number
  readonly chunkSize: number
  readonly initial: S
  /** The last checkpoint saved, decoded by the kind's checkpoint Schema. */
  readonly resumed: Option.Option<Checkpoint<S>>
  /** Saves a checkpoint (encoded by the kind's checkpoint Schema). */
  readonly save: (checkpoint: Checkpoint<S>) => Effect.Effect<void, never, TaskContext.TaskContext>
  /** Folds blocks `from`–`to` into the state. */
  readonly step: (state: S, from: number, to: number) => Effect.Effect<S, E, R>
  /** The progress message after a chunk. */
  readonly describe: (state: S, to: number) => string
  /** The state's size, for `maxSize`. */
  readonly size?: ((state: S) => number) | undefined
  /** The largest state a checkpoint holds. Default: no limit. */
  readonly maxSize?: number | undefined
}

/** Walks the range; returns the final state. */
export const walk = <S, E, R>(options: Walk<S, E, R>): Effect.Effect<S, E, R | TaskContext.TaskContext> =>
  Effect.gen(function*() {
    const context = yield* TaskContext.TaskContext
    const resumed = options.resumed
    let state = Option.isSome(resumed) ? resumed.value.state : options.initial
    let from = Option.isSome(resumed) ? resumed.value.lastBlock + 1 : options.fromBlock
    const total = options.toBlock - options.fromBlock + 1
    let stopped = false
    while (from <= options.toBlock) {
      const to = Math.min(options.toBlock, from + options.chunkSize - 1)
      state = yield* options.step(state, from, to)
      const size = options.size?.(state) ?? 0
      if (options.maxSize === undefined || size <= options.maxSize) {
        yield* options.save({ lastBlock: to, state })
      } else if (!stopped) {
        stopped = true
        yield* Effect.logInfo(`chainjobs: no more checkpoints after block ${from - 1}: ${size} items > ${options.maxSize}`)
      }
      yield* context.progress((to - options.fromBlock + 1) / total * 100, options.describe(state, to))
      from = to + 1
    }
    return state
  })
