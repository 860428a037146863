/**
 * The OpenAPI document of the REST API (`RestApi.openApiDocument`) for a set
 * of kinds, built without a server: one submit operation per kind at its
 * name as printed (slash included), its payload as the body and its success
 * type as the record's `result`, the kind's named schemas under its own
 * prefix in `components`; query integers as integers with their bounds;
 * numbers as plain numbers; a 400 wherever something is decoded and a 415
 * wherever a body is; the bearer scheme spelled as the registry spells it.
 * And a record's ISO times beside its epoch milliseconds (`toRecord`).
 */
import { assert, beforeEach, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { Task, TaskQuery } from "@chainjobs/tasks"
import { record } from "@chainjobs/tasks/test/TaskStoreConformance"
import { openApiDocument, toRecord } from "../src/RestApi.ts"

const Point = Schema.Struct({ x: Schema.Number, label: Schema.optionalKey(Schema.String) }).annotate({ identifier: "Point" })
const Measure = Task.define("geo/measure", {
  payload: Schema.Struct({ from: Point, to: Point, scale: Schema.Number }),
  success: Schema.Struct({ distance: Schema.Number })
})
const Plain = Task.define("plain", {
  // a number, or words of which one only spells a non-finite number: a branch kept
  payload: Schema.Struct({ n: Schema.Int, cap: Schema.Union([Schema.Number, Schema.Literals(["Infinity", "none"])]) }),
  success: Schema.String
})

/**
 * The document, built anew by each test that reads it (not once when this file loads: a mutation run switches a
 * mutant on before each test, after the file has loaded).
 */
let spec: Record<string, any> = {}
beforeEach(() => {
  spec = openApiDocument([Measure, Plain])
})

/** Every operation of the document, with its method and path. */
const operations = () =>
  Object.entries<any>(spec.paths).flatMap(([path, item]) => Object.entries<any>(item).map(([method, operation]) => ({ path, method, operation })))

const badRequestRef = { $ref: "#/components/schemas/BadRequest" }

describe("the OpenAPI document", () => {
  it("is served from where it is read, with bearer spelled in lower case", () => {
    assert.deepStrictEqual(spec.servers, [{ url: "/", description: "The server that serves this document" }])
    assert.deepStrictEqual(spec.components.securitySchemes.bearer, { type: "http", scheme: "bearer" })
    assert.deepStrictEqual(spec.components.securitySchemes.query, { type: "apiKey", name: "access_token", in: "query" })
    // The typed body of a request that could not be decoded, the part named.
    const badRequest = spec.components.schemas.BadRequest
    assert.sameMembers(badRequest.required, ["_tag", "part", "message"])
    assert.deepStrictEqual(badRequest.properties._tag.enum, ["BadRequest"])
    assert.sameMembers(badRequest.properties.part.enum, ["Params", "Query", "Headers", "Payload"])
    assert.strictEqual(badRequest.properties.message.type, "string")
  })

  it("has one submit operation per kind, at its name as printed, typed by its payload and success", () => {
    assert.notInclude(Object.keys(spec.paths), "/api/tasks/{kind}")
    const measure = spec.paths["/api/tasks/geo/measure"].post
    const plain = spec.paths["/api/tasks/plain"].post
    assert.strictEqual(measure.operationId, "tasks.submit.geo/measure")
    assert.strictEqual(measure.summary, "Submit a geo/measure task")
    assert.strictEqual(plain.operationId, "tasks.submit.plain")
    assert.strictEqual(plain.summary, "Submit a plain task")
    // The kind is in the path: no path parameter is left.
    assert.deepStrictEqual(measure.parameters.map((parameter: any) => [parameter.name, parameter.in]), [
      ["wait", "query"],
      ["priority", "query"],
      ["timeoutMillis", "query"],
      ["heartbeatTimeoutMillis", "query"],
      ["webhook", "query"],
      ["retries", "query"]
    ])
    // The payload, its named schemas under the kind's prefix (the slash made `_`).
    const body = measure.requestBody
    assert.isTrue(body.required)
    const payload = body.content["application/json"].schema
    assert.deepStrictEqual(payload.properties.from, { $ref: "#/components/schemas/geo_measure.Point" })
    assert.deepStrictEqual(payload.properties.to, { $ref: "#/components/schemas/geo_measure.Point" })
    assert.deepStrictEqual(payload.properties.scale, { type: "number" })
    assert.sameMembers(payload.required, ["from", "to", "scale"])
    const point = spec.components.schemas["geo_measure.Point"]
    assert.deepStrictEqual(point.properties.x, { type: "number" })
    assert.deepStrictEqual(point.properties.label, { type: "string" })
    assert.notInclude(JSON.stringify(spec), "#/$defs/")
    assert.deepStrictEqual(plain.requestBody.content["application/json"].schema.properties.n.type, "integer")

    // 200 (with ?wait=true): the record, its result typed by the kind, or null.
    const final = measure.responses["200"]
    assert.strictEqual(final.description, "With `?wait=true`: the task's final record, `result` typed by its kind")
    const [recordSchema, typed] = final.content["application/json"].schema.allOf
    assert.deepStrictEqual(recordSchema, spec.paths["/api/tasks/{id}"].get.responses["200"].content["application/json"].schema)
    assert.deepStrictEqual(typed.type, "object")
    const [success, none] = typed.properties.result.anyOf
    assert.deepStrictEqual(success.properties.distance, { type: "number" })
    assert.deepStrictEqual(none, { type: "null" })
    assert.strictEqual(plain.responses["200"].content["application/json"].schema.allOf[1].properties.result.anyOf[0].type, "string")
    // 202: accepted, with the URLs to follow the task.
    assert.strictEqual(measure.responses["202"].description, "Accepted: the task's id and the URLs to follow it")
    assert.isObject(measure.responses["202"].content["application/json"].schema)
    // The kind's own refusals stay beside the 400 of a request that could not be decoded.
    assert.deepStrictEqual(measure.responses["400"].content["application/json"].schema.anyOf.at(-1), badRequestRef)
    assert.isAbove(measure.responses["400"].content["application/json"].schema.anyOf.length, 1)
    assert.deepStrictEqual(measure.responses["415"], {
      description: "Unsupported media type: the body must be `application/json`",
      content: { "text/plain": { schema: { type: "string" } } }
    })
  })

  it("gives query integers as integers with their bounds, and numbers as plain numbers", () => {
    const query = (path: string, method: string) =>
      new Map<string, unknown>(spec.paths[path][method].parameters.filter((p: any) => p.in === "query").map((p: any) => [p.name, p.schema]))
    const list = query("/api/tasks", "get")
    assert.deepStrictEqual(list.get("page"), { type: "integer", minimum: 1 })
    assert.deepStrictEqual(list.get("limit"), { type: "integer", minimum: 1, maximum: TaskQuery.maxLimit })
    for (const kind of ["geo/measure", "plain"]) {
      const submit = query(`/api/tasks/${kind}`, "post")
      assert.deepStrictEqual(submit.get("priority"), { type: "integer" })
      assert.deepStrictEqual(submit.get("retries"), { type: "integer", minimum: 0, maximum: 1000 })
      for (const name of ["timeoutMillis", "heartbeatTimeoutMillis"]) assert.deepStrictEqual(submit.get(name), { type: "integer", minimum: 1 })
    }
    // A number's non-finite string forms are never sent: no branch of them only is left; a branch of other words is.
    const onlyNonFinite = (node: any): boolean =>
      Array.isArray(node) ? node.some(onlyNonFinite) : node !== null && typeof node === "object" && (
        (Array.isArray(node.enum) && node.enum.length > 0 && node.enum.every((value: unknown) => ["NaN", "Infinity", "-Infinity"].includes(value as string))) ||
        Object.values(node).some(onlyNonFinite)
      )
    assert.isFalse(onlyNonFinite(spec))
    assert.deepStrictEqual(
      spec.paths["/api/tasks/plain"].post.requestBody.content["application/json"].schema.properties.cap,
      { anyOf: [{ type: "number" }, { type: "string", enum: ["Infinity", "none"] }] }
    )
    assert.deepStrictEqual(recordProperties().priority, { type: "number" })
    assert.deepStrictEqual(recordProperties().startedAt, { anyOf: [{ type: "number" }, { type: "null" }] })
  })

  it("answers 400 wherever something is decoded and 415 wherever a body is sent, and nowhere else", () => {
    for (const { method, operation, path } of operations()) {
      const decodes = operation.requestBody !== undefined || (operation.parameters ?? []).length > 0
      const name = `${method} ${path}`
      if (decodes) {
        const schema = operation.responses["400"].content["application/json"].schema
        assert.isTrue(
          JSON.stringify(schema) === JSON.stringify(badRequestRef) || JSON.stringify(schema.anyOf?.at(-1)) === JSON.stringify(badRequestRef),
          `${name}: ${JSON.stringify(schema)}`
        )
        assert.strictEqual(operation.responses["400"].description, "Bad request: the request could not be decoded, or its payload was refused", name)
      } else assert.notProperty(operation.responses, "400", name)
      if (operation.requestBody === undefined) assert.notProperty(operation.responses, "415", name)
      else assert.property(operation.responses, "415", name)
    }
    // An operation that decodes nothing else still has a 400: its path's id.
    assert.deepStrictEqual(spec.paths["/api/tasks/{id}"].get.responses["400"].content["application/json"].schema, badRequestRef)
  })
})

/** The properties of a task record in the document. */
const recordProperties = () => spec.paths["/api/tasks/{id}"].get.responses["200"].content["application/json"].schema.properties

describe("a record as the REST API shows it", () => {
  it("has its times in ISO 8601 beside the epoch milliseconds, null where not set", () => {
    const created = Date.UTC(2026, 11, 1, 5, 0, 0, 123)
    const pending = toRecord(record({ createdAt: created }))
    assert.strictEqual(pending.createdAtIso, "2026-12-01T05:00:00.123Z")
    assert.isNull(pending.startedAtIso)
    assert.isNull(pending.finishedAtIso)
    const done = toRecord(record({ createdAt: created, startedAt: created + 1000, finishedAt: created + 2000, status: "completed" }))
    assert.strictEqual(done.startedAtIso, "2026-12-01T05:00:01.123Z")
    assert.strictEqual(done.finishedAtIso, "2026-12-01T05:00:02.123Z")
    assert.strictEqual(done.createdAt, created)
  })
})
