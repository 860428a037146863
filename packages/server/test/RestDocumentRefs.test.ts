/**
 * The OpenAPI document (`RestApi.openApiDocument`) holds together: every `$ref` in it names a schema it
 * has (the kinds' schemas are added beside the API's own, not instead of them), and only the integer query
 * parameters are rewritten as integers — the others keep their own schemas.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { Task } from "@chainjobs/tasks"
import { openApiDocument } from "../src/RestApi.ts"

const Echo = Task.define("echo", { payload: Schema.Struct({ text: Schema.String }), success: Schema.String })

/** Every `$ref` value anywhere under `node`. */
const refsIn = (node: unknown): Array<string> =>
  Array.isArray(node)
    ? node.flatMap(refsIn)
    : node !== null && typeof node === "object"
    ? Object.entries(node).flatMap(([key, value]) => key === "$ref" && typeof value === "string" ? [value] : refsIn(value))
    : []

describe("the OpenAPI document", () => {
  it("names in every $ref a schema it has, the API's own error schemas among them", () => {
    const spec = openApiDocument([Echo])
    const refs = refsIn(spec)
    assert.isAbove(refs.length, 0)
    const schemas = Object.keys(spec.components.schemas)
    const dangling = refs.filter((ref) => !schemas.includes(ref.replace("#/components/schemas/", "")))
    assert.deepStrictEqual(dangling, [])
    assert.include(schemas, "BadRequest")
    assert.isTrue(schemas.some((name) => name.includes("TaskNotFound")), schemas.join(", "))
  })

  it("rewrites only the integer query parameters: the others keep their own schemas", () => {
    const spec = openApiDocument([Echo])
    const parameter = (path: string, method: string, name: string) =>
      spec.paths[path][method].parameters.find((candidate: any) => candidate.name === name).schema
    assert.deepStrictEqual(parameter("/api/tasks", "get", "kind"), { type: "string" })
    assert.deepStrictEqual(parameter("/api/tasks", "get", "cursor"), { type: "string" })
    assert.strictEqual(parameter("/api/tasks", "get", "status").type, "string")
    assert.deepStrictEqual(parameter("/api/tasks", "get", "page"), { type: "integer", minimum: 1 })
    assert.notStrictEqual(parameter("/api/tasks/echo", "post", "wait").type, "integer")
    assert.notStrictEqual(parameter("/api/tasks/echo", "post", "webhook").type, "integer")
  })
})
