/**
 * The client span of each call of a `TaskRpcClient`, made here instead of by
 * `effect/rpc`.
 *
 * `effect/rpc`'s traced client makes, for every call, a fresh attributes
 * object for its span and runs the call's send fiber under
 * `withParentSpan`: two context overlays (the parent span and a stack frame),
 * each rebuilding the fiber's cached services. Here the raw client runs with
 * `disableTracing`, each method's attributes are made once, and a call runs
 * with its span as `ParentSpan` (one overlay, on the calling fiber, which the
 * send fiber inherits); the client middleware copies the span's ids into the
 * request (`withSpanIds`), as `effect/rpc` would. The spans are the same:
 * named after the method, kind `client`, child of the caller's span, and the
 * server's span of the call is their child.
 */
import { Context, Effect, Stream, Tracer } from "effect"
import { type Rpc, type RpcGroup, RpcSchema } from "effect/rpc"

/** The attributes `effect/rpc` gives a client span of `tag`. */
const attributesOf = (tag: string): Readonly<Record<string, unknown>> => ({ "rpc.system.name": "effect_rpc", "rpc.method": tag })

/**
 * `client` (a raw client of `group`, made with `disableTracing`) with every
 * call in a client span of its own: an effect's span lasts the call, a
 * stream's its subscription.
 */
export const traced = <C extends object>(client: C, group: RpcGroup.Any): C => {
  const spanned: Record<string, unknown> = {}
  for (const rpc of (group as RpcGroup.RpcGroup<Rpc.AnyWithProps>).requests.values()) {
    const tag = rpc._tag
    const call = (client as Record<string, (payload: unknown, options?: unknown) => any>)[tag]
    const options = { kind: "client", attributes: attributesOf(tag) } as const
    spanned[tag] = RpcSchema.isStreamSchema(rpc.successSchema)
      ? (payload: unknown, callOptions?: unknown) => Stream.withSpan(call(payload, callOptions), tag, { ...options, captureStackTrace: false })
      : (payload: unknown, callOptions?: unknown) =>
        Effect.useSpan(tag, options, (span) => Effect.provideService(call(payload, callOptions), Tracer.ParentSpan, span))
  }
  return spanned as C
}

/**
 * `request` carrying the ids of the span it is sent under (the `ParentSpan`
 * of `context`, the sending fiber's: the call's client span from `traced`),
 * for the server's span to be its child; unchanged when there is none, or it
 * is not a span of this process's tracer.
 */
export const withSpanIds = <R extends object>(request: R, context: Context.Context<never>): R => {
  const span = Context.getOrUndefined(context, Tracer.ParentSpan)
  if (span === undefined || span._tag !== "Span") return request
  return { ...request, traceId: span.traceId, spanId: span.spanId, sampled: span.sampled }
}
