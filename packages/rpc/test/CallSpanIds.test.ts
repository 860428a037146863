/**
 * The ids a client's request carries for the server's span
 * (`internal/callSpans.ts`' `withSpanIds`): those of the sending fiber's
 * parent span when it is a span of this process's tracer; none when the
 * fiber has no parent span, or only an external one (ids that came from
 * elsewhere, which this client did not make a call span under).
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Tracer } from "effect"
import { withSpanIds } from "../src/internal/callSpans.ts"

const request = { _tag: "Request", id: "1", tag: "Get", payload: { id: "t1" } } as const

describe("withSpanIds", () => {
  it("a request sent without a parent span is left as it is", () => {
    const sent = withSpanIds(request, Context.empty())
    assert.strictEqual(sent, request)
    assert.notProperty(sent, "traceId")
  })

  it("a request sent under an external parent span is left as it is", () => {
    const external = Tracer.externalSpan({ traceId: "trace-1", spanId: "span-1", sampled: true })
    const sent = withSpanIds(request, Context.make(Tracer.ParentSpan, external))
    assert.strictEqual(sent, request)
    assert.notProperty(sent, "spanId")
  })

  it.effect("a request sent under a span of this process carries its trace id, span id and sampling", () =>
    Effect.gen(function*() {
      const span = yield* Effect.makeSpan("Get")
      const sent = withSpanIds(request, Context.make(Tracer.ParentSpan, span))
      assert.deepStrictEqual(sent as object, { ...request, traceId: span.traceId, spanId: span.spanId, sampled: span.sampled })
    }))
})
