/**
 * A WebSocket message is read in the socket's message callback, which
 * resumes the server's reading fiber there; the lines it carries are
 * checked, decoded and dispatched in a task of the fiber's scheduler, not in
 * that callback, where a burst of calls was work no turn's budget bounded
 * (the service's `TurnScheduler`). Seen on a real server in this process over
 * a real WebSocket, through a scheduler that marks the tasks it runs and a
 * door that notes, for each line it checks, whether it runs inside one.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Scheduler } from "effect"
import { HttpRouter } from "effect/http"
import { TaskRpcs, TaskRpcServer } from "@chainjobs/rpc"
import * as Frames from "../src/internal/frames.ts"
import * as PreEncoded from "../src/internal/preEncoded.ts"
import { overWebsocket, requestLine, serveRoutes } from "./localServer.ts"
import { TaskMarking } from "../../../testing/taskMarking.ts"

describe("a WebSocket message on the guarded server", () => {
  it.live("has its lines checked in a task of the reading fiber's scheduler, not in the message callback", () =>
    Effect.gen(function*() {
      const scheduler = new TaskMarking()
      const seen: Array<boolean> = []
      const door = Frames.make(TaskRpcs.TaskRpcs.requests as ReadonlyMap<string, any>, 16)
      const noting: Frames.Door = {
        maxDepth: door.maxDepth,
        check: door.check,
        checkSocket: (line, passed, inFlight) => {
          seen.push(scheduler.inTask)
          return door.checkSocket(line, passed, inFlight)
        }
      }
      const routes = Layer.effectDiscard(Effect.gen(function*() {
        const router = yield* HttpRouter.HttpRouter
        yield* router.add("GET", "/ws", yield* TaskRpcServer.guardWebsocket(TaskRpcs.TaskRpcs, noting, 1024 * 1024))
      }).pipe(Effect.provide(Layer.merge(TaskRpcServer.layerHandlers, PreEncoded.layerNdjson))))
      const port = yield* Effect.provideService(serveRoutes(routes), Scheduler.Scheduler, scheduler)
      // Three messages, one line each: each arrives in a message callback of its own (or a few together).
      const messages = ["a", "b", "c"].map((id) => requestLine("Get", { id: `resume-${id}` }, id))
      const exchange = yield* overWebsocket(port, messages, 3)
      assert.deepStrictEqual(
        exchange.answers.map((answer) => answer.exit.cause[0].error._tag),
        ["TaskNotFound", "TaskNotFound", "TaskNotFound"]
      )
      assert.deepStrictEqual(seen, [true, true, true])
    }).pipe(Effect.scoped))
})
