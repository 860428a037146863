/**
 * The frames `/api/events` writes: a batch of changes the feed hands a
 * subscriber at once goes out as one block — the changes' events as the feed
 * framed them, in order, byte for byte — encoded once, not once per change;
 * a gap is its `reset` event, a drop its `dropped` event after the frames
 * read before it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { TaskFeed } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { feedFrames } from "../src/RestServer.ts"

/** A running task's record at `progress`. */
const running = (id: string, progress: number) => record({ id, status: "running", owner: "alice", progress, message: `block ${progress} \u2713` })

const changes = [
  new TaskFeed.Change(1, "abc123-1", running("t1", 25)),
  new TaskFeed.Change(2, "abc123-2", running("t2", 50)),
  new TaskFeed.Change(3, "abc123-3", running("t1", 100), true)
] as const

/** The blocks `feedFrames` makes of `batches` (each one pull of the feed), as text. */
const framesOf = (
  batches: ReadonlyArray<ReadonlyArray<TaskFeed.Change | TaskFeed.Gap>>,
  after: Stream.Stream<never, TaskFeed.SubscriberDropped> = Stream.empty
) =>
  Effect.map(
    Stream.runCollect(feedFrames(Stream.concat(Stream.fromArrays(...batches), after))),
    (blocks) => Array.from(blocks, (block) => new TextDecoder().decode(block))
  )

describe("feedFrames", () => {
  it.effect("a batch of changes is one block: their events as the feed framed them, in order", () =>
    Effect.gen(function*() {
      const blocks = yield* framesOf([changes, [changes[1]]])
      assert.deepStrictEqual(blocks, [changes.map((change) => change.sseText).join(""), changes[1].sseText])
      assert.match(blocks[0], /^id: abc123-1\nevent: message\ndata: \{.*"progress":25.*\}\n\nid: abc123-2\n/)
      assert.match(blocks[0], /id: abc123-3\nevent: deleted\ndata: /)
    }))

  it.effect("a gap is a reset event; a drop ends the stream with its dropped event", () =>
    Effect.gen(function*() {
      const dropped = new TaskFeed.SubscriberDropped({ reason: "slow-consumer", limit: 1024, lastEventId: "abc123-1" })
      const blocks = yield* framesOf([[new TaskFeed.Gap("expired", "abc123-0")], [changes[0]]], Stream.fail(dropped))
      assert.deepStrictEqual(blocks, [
        `event: reset\ndata: {"reason":"expired","after":"abc123-0"}\n\n`,
        changes[0].sseText,
        `event: dropped\ndata: {"reason":"slow-consumer","limit":1024,"lastEventId":"abc123-1"}\n\n`
      ])
    }))
})
