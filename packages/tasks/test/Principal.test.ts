/**
 * Authentication by a token table: no token and an unknown token are refused
 * with distinct, typed reasons; a listed token is its principal, an admin
 * only when granted; with authentication off everyone is the anonymous admin.
 * Who sees a task: its owner and admins. The access errors' messages say
 * what was refused in their fields' words.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Option, Schema } from "effect"
import * as Principal from "../src/Principal.ts"
import * as TaskAccessError from "../src/TaskAccessError.ts"
import type { TaskInfo } from "../src/TaskInfo.ts"

const tokens = { "s3cret": { principal: "billing" }, "r00t": { principal: "ops", admin: true }, "n0pe": { principal: "guest", admin: false } }

/** The reason an authentication was refused, or the principal it gave. */
const authenticate = (principals: Principal.Principals["Service"], token: Option.Option<string>) => {
  const exit = Effect.runSyncExit(principals.authenticate(token))
  if (Exit.isSuccess(exit)) return exit.value
  const failure = exit.cause.reasons.find((reason) => reason._tag === "Fail") as
    | { readonly error: TaskAccessError.TaskAccessError }
    | undefined
  assert.isDefined(failure)
  return failure!.error.reason
}

describe("Principal", () => {
  it("a token table: each listed token is its principal, an admin only when granted", () => {
    const principals = Principal.make(tokens)
    assert.deepStrictEqual(authenticate(principals, Option.some("s3cret")), { id: "billing", admin: false })
    assert.deepStrictEqual(authenticate(principals, Option.some("r00t")), { id: "ops", admin: true })
    assert.deepStrictEqual(authenticate(principals, Option.some("n0pe")), { id: "guest", admin: false })
  })

  it.prop("no token, or a token nobody holds, is refused as Unauthenticated with its own reason", { token: Schema.String }, ({ token }) => {
    const principals = Principal.make(tokens)
    const missing = authenticate(principals, Option.none()) as TaskAccessError.Unauthenticated
    assert.strictEqual(missing._tag, "Unauthenticated")
    assert.strictEqual(missing.credential, "missing-token")
    assert.strictEqual(missing.message, "the request carries no bearer token")
    if (token in tokens) return
    const unknown = authenticate(principals, Option.some(token)) as TaskAccessError.Unauthenticated
    assert.strictEqual(unknown._tag, "Unauthenticated")
    assert.strictEqual(unknown.credential, "unknown-token")
    assert.strictEqual(unknown.message, "the bearer token is not recognised")
  })

  it.effect("with authentication off, every caller is the anonymous admin", () =>
    Effect.gen(function*() {
      const principals = yield* Principal.Principals
      for (const token of [Option.none(), Option.some(""), Option.some("anything")]) {
        assert.deepStrictEqual(yield* principals.authenticate(token), { id: "anonymous", admin: true })
      }
    }).pipe(Effect.provide(Principal.layerAnonymous)))

  it.effect("the layer over a token table authenticates as make does", () =>
    Effect.gen(function*() {
      const principals = yield* Principal.Principals
      assert.deepStrictEqual(yield* principals.authenticate(Option.some("r00t")), { id: "ops", admin: true })
      assert.isTrue(Exit.isFailure(yield* Effect.exit(principals.authenticate(Option.some("ops")))))
    }).pipe(Effect.provide(Principal.layer(tokens))))

  it("a task is seen by its owner and by admins only", () => {
    const owned = (owner: string | null) => ({ owner }) as TaskInfo
    const alice = { id: "alice", admin: false }
    assert.isTrue(Principal.canSee(alice, owned("alice")))
    assert.isFalse(Principal.canSee(alice, owned("bob")))
    assert.isFalse(Principal.canSee(alice, owned(null)))
    assert.isTrue(Principal.canSee({ id: "root", admin: true }, owned("bob")))
    assert.isTrue(Principal.canSee({ id: "root", admin: true }, owned(null)))
  })
})

describe("TaskAccessError", () => {
  it("each reason's message says what was refused, and the error's message is its reason's", () => {
    const cases: ReadonlyArray<readonly [TaskAccessError.TaskAccessErrorReason, string]> = [
      [new TaskAccessError.Forbidden({ principal: "bob", operation: "list-others" }), `principal "bob" may list only its own tasks`],
      [new TaskAccessError.Forbidden({ principal: "bob", operation: "purge" }), `principal "bob" may not purge: only admins may`],
      [new TaskAccessError.Forbidden({ principal: "bob", operation: "metrics" }), `principal "bob" may not read the metrics: only admins may`],
      [
        new TaskAccessError.QuotaExceeded({ principal: "alice", limit: 10, windowMillis: 1000, retryAfterMillis: 250 }),
        `principal "alice" may submit 10 tasks per 1000 ms; retry after 250 ms`
      ],
      [new TaskAccessError.PayloadTooLarge({ size: 70000, limit: 65536 }), "the payload is 70000 bytes; at most 65536 are accepted"],
      [new TaskAccessError.PayloadTooDeep({ depth: 33, limit: 32 }), "the payload nests 33 levels deep; at most 32 are accepted"],
      [new TaskAccessError.Unauthenticated({ credential: "missing-token" }), "the request carries no bearer token"]
    ]
    for (const [reason, message] of cases) {
      assert.strictEqual(reason.message, message)
      assert.strictEqual(TaskAccessError.refuse(reason).message, message)
      assert.strictEqual(TaskAccessError.refuse(reason).reason, reason)
    }
  })

  it("a refusal survives encoding: its reason decodes to the same message", () => {
    const error = TaskAccessError.refuse(new TaskAccessError.Forbidden({ principal: "bob", operation: "purge" }))
    const codec = Schema.toCodecJson(TaskAccessError.TaskAccessError)
    const decoded = Schema.decodeUnknownSync(codec)(JSON.parse(JSON.stringify(Schema.encodeSync(codec)(error))))
    assert.strictEqual(decoded.message, error.message)
    assert.strictEqual(decoded.reason._tag, "Forbidden")
  })
})
