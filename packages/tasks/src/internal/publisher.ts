/**
 * Who hears of a change: the followers of one task (`watch`, a handle's
 * `events`), the open streams of every task's records (`changes`, and
 * `changesAndDeletions`, which also tells of deleted records), and the
 * open streams of task events (`events`). It owns the queues of the all-task
 * streams; an event object is made only when someone listens.
 */
import { type Cause, Effect, Queue, Stream } from "effect"
import type { Deleted, Tag, TaskEvent } from "../TaskEvent.ts"
import type { TaskInfo } from "../TaskInfo.ts"
import type { Entry } from "./entry.ts"

/** The listeners of one supervisor. */
export class Publisher {
  private readonly changeQueues = new Set<Queue.Queue<TaskInfo, Cause.Done>>()
  private readonly journalQueues = new Set<Queue.Queue<TaskInfo | Deleted, Cause.Done>>()
  private readonly eventQueues = new Set<Queue.Queue<TaskEvent, Cause.Done>>()
  private refusing = false

  /** How many streams of every task are open (changes, journal, events). */
  private get followers(): number {
    return this.changeQueues.size + this.journalQueues.size + this.eventQueues.size
  }

  /** Tells everyone following `entry` its current record, and the event `tag` if the change is one. */
  publish(entry: Entry, tag: Tag | undefined): void {
    // Nobody follows the task nor every task (the usual case): nothing read, no iteration, nothing made.
    if (entry.listeners === undefined && this.followers === 0) return
    const info = entry.info
    if (entry.listeners !== undefined) for (const queue of entry.listeners) Queue.offerUnsafe(queue, info)
    if (this.followers === 0) return
    for (const queue of this.changeQueues) Queue.offerUnsafe(queue, info)
    for (const queue of this.journalQueues) Queue.offerUnsafe(queue, info)
    if (tag === undefined || this.eventQueues.size === 0) return
    const event = { _tag: tag, info } as TaskEvent
    for (const queue of this.eventQueues) Queue.offerUnsafe(queue, event)
  }

  /** Tells the all-task streams of a record no entry stands for (a task recovery found lost), and its event `tag`. */
  announce(info: TaskInfo, tag: Tag): void {
    for (const queue of this.changeQueues) Queue.offerUnsafe(queue, info)
    for (const queue of this.journalQueues) Queue.offerUnsafe(queue, info)
    if (this.eventQueues.size === 0) return
    const event = { _tag: tag, info } as TaskEvent
    for (const queue of this.eventQueues) Queue.offerUnsafe(queue, event)
  }

  /** Tells the deletion-following streams and the event streams that a record (`info`, as it stood) was deleted. */
  deleted(info: TaskInfo): void {
    const event: Deleted = { _tag: "Deleted", info }
    for (const queue of this.journalQueues) Queue.offerUnsafe(queue, event)
    for (const queue of this.eventQueues) Queue.offerUnsafe(queue, event)
  }

  /** Every change of every task, as its record, from now until `close`. */
  readonly changes: Stream.Stream<TaskInfo> = Stream.callback<TaskInfo>((queue) => this.follow(this.changeQueues, queue))

  /** `changes` and a `Deleted` event for every deleted record, in the order they happened, from now until `close`. */
  readonly changesAndDeletions: Stream.Stream<TaskInfo | Deleted> = Stream.callback<TaskInfo | Deleted>((queue) =>
    this.follow(this.journalQueues, queue)
  )

  /** Every task event, from now until `close`. */
  readonly events: Stream.Stream<TaskEvent> = Stream.callback<TaskEvent>((queue) => this.follow(this.eventQueues, queue))

  /** Streams opened from now on end at once (the supervisor is shutting down); open ones go on until `close`. */
  refuseNew(): void {
    this.refusing = true
  }

  /** Ends every open stream; streams opened later end at once. */
  close(): void {
    this.refusing = true
    for (const queue of this.changeQueues) Queue.endUnsafe(queue)
    for (const queue of this.journalQueues) Queue.endUnsafe(queue)
    for (const queue of this.eventQueues) Queue.endUnsafe(queue)
  }

  private follow<A>(set: Set<Queue.Queue<A, Cause.Done>>, queue: Queue.Queue<A, Cause.Done>) {
    return Effect.acquireRelease(
      Effect.sync(() => {
        if (this.refusing) Queue.endUnsafe(queue)
        else set.add(queue)
      }),
      () => Effect.sync(() => set.delete(queue))
    )
  }
}
