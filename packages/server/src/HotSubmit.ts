/**
 * The lean path of the busiest write, a submission (`POST /api/tasks/:kind`),
 * served in front of the HttpApi stack straight on Node's request and
 * response, as `HotReads` serves the busiest reads: the stack's router,
 * middlewares, schema decoding and response pipeline cost about 0.7 ms a
 * submission, most of what a submission costs the service under load.
 *
 * It takes the requests it can answer as the stack would, decided before it
 * reads the body: a plain kind in the path (no `/`, no escapes), no query but
 * `access_token`, a JSON body (no `content-type`, or `application/json`) and
 * a token the principals accept. Anything else — no or a refused token, an
 * unusual path, another content type, `?wait=` and the submission options —
 * goes on, unread, to the stack, which answers it as it always has.
 *
 * What it takes it answers as the stack does, byte for byte: the body held
 * to the payload limit as it is read (413 `PayloadTooLarge` at the first byte
 * past it, 400 `PayloadTooDeep` before it is parsed), a body that is not JSON
 * or holds a number out of range (400 `BadRequest`, the stack's messages), then the same `TaskAccess.submit`
 * (the quota, the payload limit on the value, the kind and its payload
 * schema), its refusals in the endpoint's error schemas and statuses (429 with
 * `Retry-After`), and the 202 with the URLs to follow the task.
 *
 * @since 0.1.0
 */
import { Cause, Effect, Exit, Option, Schema, SchemaAST, SchemaIssue } from "effect"
import type * as Http from "node:http"
import { PayloadLimit, Principal, TaskAccess, TaskAccessError } from "@chainjobs/tasks"
import * as HotRequest from "./HotRequest.ts"
import { submitErrors } from "./RestApi.ts"
import { accepted, badRequest, bodyTooLarge, limitRefusal, retryAfter } from "./RestServer.ts"

/** A submission's path with a kind the lean path takes: plain characters, nothing to decode. */
const kindPath = /^\/api\/tasks\/([A-Za-z0-9][A-Za-z0-9_.~-]*)$/

/** The stack's answer to a body that is not JSON (its payload decoding's message). */
const notJson = new Schema.SchemaError(new SchemaIssue.InvalidValue({ message: "Expected a valid JSON body" })).message

/**
 * The stack's JSON payload codec: it refuses what is not a JSON value — no value at all (an empty body), or a number
 * `JSON.parse` read as infinite (`1e400`, anywhere in the body), which a stored payload would carry as `null`.
 */
const jsonValue = Schema.decodeUnknownExit(Schema.toCodecJson(Schema.Unknown))

/** The codec's refusal of `value`, as the stack answers it, or `undefined` for a JSON value. */
const refusalOf = (value: unknown): string | undefined => {
  const exit = jsonValue(value)
  return Exit.isFailure(exit) ? String((Cause.squash(exit.cause) as Error).message) : undefined
}

/** The stack's answer to an empty body: the JSON payload codec's refusal of no value. */
const noValue = refusalOf(undefined) ?? "Expected JSON value"

/** Each error a submission answers with: how to tell it, its status and its JSON encoding, in the endpoint's order. */
const errorAnswers = submitErrors.map((schema: Schema.Codec<unknown, unknown>) => ({
  is: Schema.is(schema),
  // Where the stack reads an error's status: its `httpApiStatus`, else 500.
  status: SchemaAST.resolveAt<number>("httpApiStatus")(schema.ast) ?? 500,
  encode: Schema.encodeSync(Schema.toCodecJson(schema))
}))

/** Writes a JSON answer as the stack does: any `extra` header (`retry-after`), then `content-type` and `content-length`. */
const answer = (response: Http.ServerResponse, status: number, body: unknown, extra?: Record<string, string>): void => {
  if (response.destroyed) return
  const text = JSON.stringify(body)
  response.writeHead(status, {
    ...extra,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text)
  })
  response.end(text)
}

/** A body's JSON value, or the stack's message refusing it (an empty body is no value at all, nor is an infinite number). */
const parse = (text: string): { readonly value: unknown } | { readonly refused: string } => {
  if (text === "") return { refused: noValue }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { refused: notJson }
  }
  const refused = refusalOf(value)
  return refused === undefined ? { value } : { refused }
}

const decoder = new TextDecoder()

/** What reading a body gave: its text (decoded as the stack decodes it), too many bytes, or a client gone. */
export type Body = { readonly text: string } | "tooLarge" | "gone"

/**
 * Reads a request's body, stopping at the first byte past `maxBytes` (the rest is left to Node, which discards it).
 * A request destroyed already (its client left while its principal was looked up) is gone: its stream emits nothing
 * more, and the read would wait forever, keeping the request and its response.
 */
export const readBody = (request: Http.IncomingMessage, maxBytes: number): Effect.Effect<Body> =>
  Effect.callback<Body>((resume) => {
    if (request.destroyed) return resume(Effect.succeed("gone"))
    const chunks: Array<Buffer> = []
    let size = 0
    const done = (body: Body) => {
      request.off("data", onData)
      request.off("end", onEnd)
      request.off("error", onGone)
      request.off("aborted", onGone)
      resume(Effect.succeed(body))
    }
    const onData = (chunk: Buffer) => {
      size += chunk.length
      if (size > maxBytes) return done("tooLarge")
      chunks.push(chunk)
    }
    const onEnd = () => done({ text: decoder.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)) })
    const onGone = () => done("gone")
    request.on("data", onData)
    request.on("end", onEnd)
    request.on("error", onGone)
    request.on("aborted", onGone)
  })

/** The lean submit handler over the current principals and access rules. */
export const make = Effect.gen(function*() {
  const principals = yield* Principal.Principals
  const access = yield* TaskAccess.TaskAccess
  const limit = access.config.payloadLimit
  const context = yield* Effect.context<never>()
  const run = Effect.runForkWith(context)

  /** The answer of the stack's submit handler to `payload` of `kind`, from `who`. */
  const submit = (response: Http.ServerResponse, who: Principal.Principal, kind: string, payload: unknown) =>
    Effect.map(
      Effect.exit(Effect.provideService(access.submit({ kind, payload }), Principal.CurrentPrincipal, who)),
      (exit): number => {
        if (Exit.isSuccess(exit)) {
          answer(response, 202, accepted(exit.value.id, kind))
          return 202
        }
        const error = Cause.findErrorOption(exit.cause)
        if (Option.isSome(error)) {
          // Access refusals carry their reason, which is what the stack answers with.
          const failure: unknown = error.value instanceof TaskAccessError.TaskAccessError ? error.value.reason : error.value
          const known = errorAnswers.find((candidate) => candidate.is(failure))
          if (known !== undefined) {
            const extra = failure instanceof TaskAccessError.QuotaExceeded ? { "retry-after": retryAfter(failure) } : undefined
            answer(response, known.status, known.encode(failure), extra)
            return known.status
          }
        }
        // A defect, or an error the endpoint does not declare: the stack's empty 500 — its head written before its
        // (empty) body, so with no length, chunked, as the stack's Node response writes it.
        if (!response.destroyed) {
          response.writeHead(500)
          response.end()
        }
        return 500
      }
    )

  /** The answer to a body, in the stack's order: its limits, then JSON, then the submission; its status. */
  const answerBody = (
    response: Http.ServerResponse,
    who: Principal.Principal,
    kind: string,
    body: string | TaskAccessError.PayloadTooLarge
  ): Effect.Effect<number> => {
    const refused = typeof body === "string" ? PayloadLimit.scanText(limit.maxDepth, body)?.reason : body
    if (refused !== undefined) {
      const refusal = limitRefusal(refused)
      answer(response, refusal.status, refusal.body)
      return Effect.succeed(refusal.status)
    }
    const payload = parse(body as string)
    if ("value" in payload) return submit(response, who, kind, payload.value)
    answer(response, 400, badRequest("Payload", payload.refused))
    return Effect.succeed(400)
  }

  const serve = (request: Http.IncomingMessage, response: Http.ServerResponse, next: () => void, kind: string, token: string) =>
    Effect.gen(function*() {
      const started = performance.now()
      const who = yield* HotRequest.principalOf(principals, request, token)
      if (Option.isNone(who)) return next()
      const body = yield* readBody(request, limit.maxBytes)
      if (body === "gone") return
      const status = yield* answerBody(response, who.value, kind, body === "tooLarge" ? bodyTooLarge(limit) : body.text)
      yield* HotRequest.timed("POST", started, status)
    })

  const handler: HotRequest.Handler = (request, response, next) => {
    if (request.method !== "POST" || request.url === undefined) return next()
    const { path, query } = HotRequest.split(request.url)
    const kind = kindPath.exec(path)?.[1]
    const token = HotRequest.queryToken(query)
    const type = request.headers["content-type"]
    if (kind === undefined || token === undefined || (type !== undefined && type !== "application/json")) return next()
    run(serve(request, response, next, kind, token))
  }
  return handler
})
