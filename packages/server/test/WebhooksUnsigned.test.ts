/**
 * Without a webhook secret no submission may name a webhook, so a finished
 * task costs the webhook tables nothing: no UPDATE, no record encoded. Only
 * the tasks whose webhooks do wait (the table held them at start, or they
 * were registered directly) have their finish recorded. Read from the SQL
 * statements the service ran (a tracer recording each statement's text) on
 * a real service and SQLite files: the finish of the task registered last
 * comes after the others' in the supervisor's changes, which the webhooks
 * follow in order, so once its webhook is due every earlier finish has
 * been seen.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Tracer } from "effect"
import { HttpServer } from "effect/http"
import * as Webhooks from "../src/Webhooks.ts"
import { testServer } from "./http.ts"

/** A tracer that keeps the text of every SQL statement run under it. */
const statementTracer = () => {
  const statements: Array<string> = []
  class Recording extends Tracer.NativeSpan {
    override attribute(key: string, value: unknown): void {
      if (key === "db.query.text") statements.push(String(value))
      super.attribute(key, value)
    }
  }
  return { statements, tracer: Tracer.make({ span: (options) => new Recording(options) }) }
}

/** Submits a demo scan of `blocks` blocks, `delayMillis` each; its task id. */
const submit = (base: string, blocks: number, delayMillis: number) =>
  Effect.promise(() =>
    fetch(`${base}/api/tasks/demo-scan`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ fromBlock: 1, toBlock: blocks, delayMillis })
    }).then((response) => response.json() as Promise<{ taskId: string }>)
  ).pipe(Effect.map((body) => body.taskId))

/** Waits until task `id` has finished. */
const finished = (base: string, id: string) =>
  Effect.gen(function*() {
    while (true) {
      const { status } = yield* Effect.promise(() => fetch(`${base}/api/tasks/${id}`).then((r) => r.json() as Promise<{ status: string }>))
      if (status === "completed" || status === "failed" || status === "interrupted") return
      yield* Effect.sleep("20 millis")
    }
  })

/** Statements that make a task's waiting webhooks due (`WebhookStore.markDue`). */
const markDue = (statements: ReadonlyArray<string>) => statements.filter((text) => /UPDATE\s.*webhooks.*SET state = 'due', body/s.test(text))

describe("webhooks without a secret", () => {
  it.live("a finished task costs the webhook tables no statement; a task with a registered webhook still has its finish recorded", () =>
    Effect.gen(function*() {
      const { statements, tracer } = statementTracer()
      const context = yield* Layer.build(testServer({ webhooks: Webhooks.defaults }).pipe(Layer.provide(Layer.succeed(Tracer.Tracer, tracer))))
      const base = HttpServer.formatAddress(Context.get(context, HttpServer.HttpServer).address)
      // Built inside the service's layer, whose type shows only what the service offers outside.
      const webhooks = Context.getUnsafe(context, Webhooks.Webhooks)
      // Tasks with no webhook, finished before the last one is submitted: their finishes come first in the changes.
      const quick = yield* Effect.forEach(Array.from({ length: 8 }), () => submit(base, 1, 0))
      yield* Effect.forEach(quick, (id) => finished(base, id), { discard: true })
      // A webhook registered directly (the refusal of `check` bypassed): its task's finish is still recorded.
      const last = yield* submit(base, 20, 50)
      yield* webhooks.register(last, new URL("http://127.0.0.1:9/hook"))
      while ((yield* webhooks.deliveries(last)).every((delivery) => delivery.state === "waiting")) yield* Effect.sleep("20 millis")
      // One for the registered task; a second only if it finished while `register` looked it up (each path records it).
      const due = markDue(statements).length
      assert.isAtLeast(due, 1, `markDue statements: ${due} of ${statements.length}`)
      assert.isAtMost(due, 2, `markDue statements: ${due} of ${statements.length} (8 tasks with no webhook finished)`)
    }).pipe(Effect.scoped), 60_000)
})
