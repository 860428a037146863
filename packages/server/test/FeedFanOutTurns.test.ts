/**
 * The all-tasks fan-out under the service's scheduler: a change woke every
 * waiting all-tasks subscriber inside the turn that published it, each
 * running its stream to the socket there, so with many subscribers that one
 * turn held the event loop (no connection accepted, no request read) until
 * the last had written. Woken subscribers now run in the scheduler's turns,
 * a budget's worth at a time, the loop polling in between.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Effect, Fiber, Scheduler, Stream } from "effect"
import * as net from "node:net"
import { TaskFeed, TaskStore } from "@chainjobs/tasks"
import * as TurnScheduler from "../src/TurnScheduler.ts"
import { services, submit } from "./hotFront.ts"

/** Keeps the thread busy for `millis`: a subscriber's work of encoding and writing what it was woken for. */
const busy = (millis: number) => {
  const end = performance.now() + millis
  while (performance.now() < end) { /* a subscriber's write */ }
}

const budget = 8
const subscribers = 40

describe("TaskFeed fan-out", () => {
  layer(services(TaskStore.layerMemory), { excludeTestServices: true })("under the service's scheduler", (it) => {
    it.effect(`${subscribers} all-tasks subscribers of 2 ms each, woken by one change, leave the loop free to accept a connection after about ${budget} ms of them`, () =>
      Effect.scoped(Effect.gen(function*() {
        const feed = yield* TaskFeed.TaskFeed
        let ran = 0
        let acceptedAfter: number | undefined
        const server = yield* Effect.acquireRelease(
          Effect.promise(() =>
            new Promise<net.Server>((resolve) => {
              const server = net.createServer((socket) => {
                acceptedAfter ??= ran
                socket.destroy()
              })
              server.listen(0, "127.0.0.1", () => resolve(server))
            })
          ),
          (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
        )
        const port = (server.address() as net.AddressInfo).port
        // Each subscriber works 2 ms for the first change it gets; the first to run asks for a connection, which the
        // loop can accept only once it polls again.
        const subscriber = Stream.runHead(feed.all({ visible: () => true })).pipe(
          Effect.andThen(Effect.sync(() => {
            if (ran === 0) net.connect(port, "127.0.0.1").on("error", () => {}).on("connect", function(this: net.Socket) {
              this.destroy()
            })
            busy(2)
            ran++
          }))
        )
        const fibers = yield* Effect.forEach(Array.from({ length: subscribers }), () => Effect.forkChild(subscriber)).pipe(
          Effect.provideService(Scheduler.Scheduler, TurnScheduler.make(budget))
        )
        // Every subscriber waits for a change before one is made.
        for (let waited = 0; (yield* feed.stats).all < subscribers; waited += 5) {
          if (waited > 5_000) assert.fail(`${(yield* feed.stats).all} of ${subscribers} subscribed after 5 s`)
          yield* Effect.sleep("5 millis")
        }
        yield* submit("alice")
        yield* Fiber.joinAll(fibers)
        for (let waited = 0; acceptedAfter === undefined; waited += 5) {
          if (waited > 5_000) assert.fail(`the connection was not accepted within 5 s of the fan-out (${ran} subscribers ran)`)
          yield* Effect.sleep("5 millis")
        }
        assert.strictEqual(ran, subscribers)
        // A turn stops at the first subscriber that ends past the budget: 4 or 5 of 2 ms, more only if the connection was late.
        assert.isAtMost(acceptedAfter, subscribers / 2, `${acceptedAfter} of ${subscribers} subscribers ran before the connection was accepted`)
      })))
  })
})
