/**
 * A submission that dies inside the service (a defect in the kind's payload
 * decoding, not a refusal the endpoint declares) gets the same answer from
 * the lean submit path (`HotSubmit`) as from the HttpApi stack: the same
 * status line, headers (the date aside) and body, on the whole service on
 * 127.0.0.1. The kind is registered with the running supervisor; its payload
 * Schema throws while decoding. A submission refused with an error the
 * endpoint does not declare (fault injection: no `TaskAccess` of the service
 * fails so) gets the stack's answer for it too, an empty 500.
 */
import { assert, describe, layer } from "@effect/vitest"
import { Context, Effect, Schema, SchemaTransformation } from "effect"
import { connect } from "node:net"
import { Task, TaskAccess, Tasks, TaskStore } from "@chainjobs/tasks"
import * as HotSubmit from "../src/HotSubmit.ts"
import { frontServerWith, send, services, tokens } from "./hotFront.ts"
import { baseUrl, testServer } from "./http.ts"

/** One request written out raw (HTTP/1.1, `connection: close`), and the whole answer read back, its date put aside. */
const exchange = (port: number, path: string, body: string) =>
  new Promise<string>((resolve, reject) => {
    const socket = connect(port, "127.0.0.1")
    const chunks: Array<Buffer> = []
    socket.on("data", (chunk) => chunks.push(chunk))
    socket.on("end", () => resolve(Buffer.concat(chunks).toString("utf8").replace(/\r\ndate: [^\r]*/i, "")))
    socket.on("error", reject)
    socket.end(
      `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
    )
  })

/** A kind whose payload decoding throws: a submission of it dies in the supervisor. */
const Dying = Task.define("dying-payload", {
  payload: Schema.Unknown.pipe(Schema.decodeTo(
    Schema.Unknown,
    SchemaTransformation.transform<unknown, unknown>({
      decode: () => {
        throw new Error("the payload's decoding broke")
      },
      encode: (value) => value
    })
  )),
  success: Schema.Unknown
})

describe("HotSubmit, a defect", () => {
  layer(testServer(), { excludeTestServices: true, timeout: "60 seconds" })("against the stack", (it) => {
    it.effect("a submission that dies gets the stack's answer from the lean path", () =>
      Effect.gen(function*() {
        const tasks = yield* Tasks.Tasks
        yield* tasks.register(Dying, () => Effect.void, Context.empty())
        const port = Number(new URL(yield* baseUrl).port)
        const body = JSON.stringify({ any: "thing" })
        const lean = yield* Effect.promise(() => exchange(port, "/api/tasks/dying-payload", body))
        const stack = yield* Effect.promise(() => exchange(port, "/api/tasks/dying-payload?wait=false", body))
        assert.match(stack, /^HTTP\/1\.1 500 /)
        assert.strictEqual(lean, stack)
      }))
  })
})

/** The service's access facade whose submissions all fail with an error no endpoint declares (fault injection). */
const undeclaredFailure = Effect.map(TaskAccess.TaskAccess, (access) =>
  TaskAccess.TaskAccess.of({ ...access, submit: () => Effect.fail(new Error("undeclared") as never) }))

describe("HotSubmit, an error the endpoint does not declare", () => {
  layer(services(TaskStore.layerMemory), { excludeTestServices: true })("in front of a stack", (it) => {
    it.effect("is answered with the stack's empty 500", () =>
      Effect.gen(function*() {
        const base = yield* frontServerWith(Effect.provideServiceEffect(HotSubmit.make, TaskAccess.TaskAccess, undeclaredFailure))
        const reply = yield* send(`${base}/api/tasks/demo-scan`, {
          method: "POST",
          headers: { authorization: `Bearer ${tokens.alice}`, "content-type": "application/json" },
          body: JSON.stringify({ fromBlock: 1, toBlock: 2, delayMillis: 0 })
        })
        assert.deepStrictEqual([reply.status, reply.text], [500, ""])
      }))
  })
})
