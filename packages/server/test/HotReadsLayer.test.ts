/**
 * `HotReads.layer`, the service's way in for the lean front: it fills the
 * `Front` slot the service's Node server was given (`HotReads.install`) for as
 * long as the layer lasts, so a task read is answered in front of the stack,
 * and empties it when the layer ends — unless another handler took the slot
 * meanwhile, which it leaves. Without a `Front` it builds and fills nothing.
 * On a real Node server on 127.0.0.1 whose only `request` listener (the
 * "stack") answers `418 stack`, as `hotFront.ts`' bench.
 */
import { assert, layer } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { Tasks, TaskStore } from "@chainjobs/tasks"
import * as HotReads from "../src/HotReads.ts"
import { get, services, stackServer, submit, tokens } from "./hotFront.ts"

/** `HotReads.layer` built into a scope of its own, given `front` as the service's `Front`; the scope, to end it. */
const filling = (front: HotReads.Front["Service"]) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    yield* Layer.buildWithScope(HotReads.layer.pipe(Layer.provide(Layer.succeed(HotReads.Front, front))), scope)
    return scope
  })

layer(services(TaskStore.layerMemory), { excludeTestServices: true })("HotReads.layer", (it) => {
  it.effect("fills the Front it is given while it lasts (a task read answered in front of the stack), and empties it when it ends", () =>
    Effect.gen(function*() {
      const front = HotReads.front()
      const base = yield* stackServer(front)
      const task = yield* submit("alice")
      yield* Effect.flatMap(Tasks.Tasks, (tasks) => tasks.awaitInfo(task.id))
      const read = Effect.map(get(`${base}/api/tasks/${task.id}`, { authorization: `Bearer ${tokens.alice}` }), (reply) =>
        reply.status)
      assert.strictEqual(yield* read, 418, "before the layer: the stack's answer")
      const scope = yield* filling(front)
      assert.isFunction(front.handler, "the slot while the layer lasts")
      assert.strictEqual(yield* read, 200, "while the layer lasts: the lean front's answer")
      yield* Scope.close(scope, Exit.void)
      assert.isUndefined(front.handler, "the slot once the layer ended")
      assert.strictEqual(yield* read, 418, "once the layer ended: the stack's answer again")
    }))

  it.effect("leaves a handler that took the slot meanwhile when it ends", () =>
    Effect.gen(function*() {
      const front = HotReads.front()
      const scope = yield* filling(front)
      const other: HotReads.Handler = (_request, _response, next) => next()
      front.handler = other
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual(front.handler, other)
    }))

  it.effect("without a Front (a server that serves every request on the stack) builds, and fills nothing", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const exit = yield* Effect.exit(Layer.buildWithScope(HotReads.layer, scope))
      yield* Scope.close(scope, Exit.void)
      assert.isTrue(Exit.isSuccess(exit), `the layer's build: ${String(exit)}`)
    }))
})
