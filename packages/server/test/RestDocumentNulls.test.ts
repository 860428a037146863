/**
 * A kind whose payload holds a null in its example, in the OpenAPI document (`RestApi.openApiDocument`):
 * the document is built (its number clean-up walks every value, nulls included) and the example is served
 * as the kind declared it, null and all.
 */
import { assert, describe, it } from "@effect/vitest"
import { Schema } from "effect"
import { Task } from "@chainjobs/tasks"
import { openApiDocument } from "../src/RestApi.ts"

const Note = Task.define("note", {
  payload: Schema.Struct({ text: Schema.NullOr(Schema.String), weight: Schema.Number })
    .annotate({ examples: [{ text: null, weight: 2 }] }),
  success: Schema.Void
})

describe("the OpenAPI document", () => {
  it("serves a kind's example with a null in it as declared", () => {
    const spec = openApiDocument([Note])
    const payload = spec.paths["/api/tasks/note"].post.requestBody.content["application/json"].schema
    assert.deepStrictEqual(payload.examples, [{ text: null, weight: 2 }])
    assert.deepStrictEqual(payload.properties.weight, { type: "number" })
  })
})
