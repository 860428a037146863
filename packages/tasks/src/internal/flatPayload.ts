/**
 * A fast encoder for the payloads most kinds have: a struct of required
 * strings, numbers and booleans, with no checks and no transformations. For a
 * plain object holding a value of its field's type under each field (a number
 * finite: the JSON codec writes `NaN` and the infinities as strings), the
 * JSON encoding is a copy of those fields, in their declared order, without
 * the others — what Schema's encoder answers, without its parser's steps and
 * allocations. Any other input (a missing or mistyped field, a non-finite
 * number, an inherited field, an object of another prototype) is left to
 * Schema, so its result and its issues are Schema's.
 */
import type { Schema, SchemaAST } from "effect"

/** The field types this encoder takes, by their AST tag. */
type Primitive = "String" | "Number" | "Boolean"

const isPrimitive = (tag: string): tag is Primitive => tag === "String" || tag === "Number" || tag === "Boolean"

/** True when `ast` is a bare type: no checks, no encoding, no optionality or other context. */
const bare = (ast: SchemaAST.AST): boolean => ast.checks === undefined && ast.encoding === undefined && ast.context === undefined

/**
 * The encoder of `schema`'s payloads when it is such a struct: it answers the encoded copy, or undefined where Schema
 * must answer. Undefined when `schema` is not such a struct.
 */
export const flatEncoder = (schema: Schema.Top): ((input: unknown) => object | undefined) | undefined => {
  const ast = schema.ast
  if (ast._tag !== "Objects" || !bare(ast) || ast.indexSignatures.length > 0) return undefined
  // parse options given as an annotation (say, refusing excess keys) change what Schema answers
  if (ast.annotations !== undefined && "parseOptions" in ast.annotations) return undefined
  const names: Array<string> = []
  const tags: Array<Primitive> = []
  for (const field of ast.propertySignatures) {
    const tag = field.type._tag
    if (typeof field.name !== "string" || field.name === "__proto__" || !bare(field.type) || !isPrimitive(tag)) return undefined
    names.push(field.name)
    tags.push(tag)
  }
  // The copy is made from a template with the fields in their order, so that it is as large as its fields: an object
  // made empty and then given its fields keeps room for 4 (56 heap bytes with one field, against 32), or keeps a
  // second array for a fifth and later. A parsed JSON object is sized to its fields, and a spread of it takes its shape.
  const template: object = JSON.parse(JSON.stringify(Object.fromEntries(names.map((name) => [name, null]))))
  return (input) => {
    if (typeof input !== "object" || input === null) return undefined
    const proto = Object.getPrototypeOf(input)
    if (proto !== Object.prototype && proto !== null) return undefined
    const record = input as Record<string, unknown>
    const encoded: Record<string, unknown> = { ...template }
    for (let i = 0; i < names.length; i++) {
      const name = names[i]
      if (!Object.hasOwn(record, name)) return undefined
      const value = record[name]
      const tag = tags[i]
      if (tag === "Number" ? !(typeof value === "number" && Number.isFinite(value)) : typeof value !== (tag === "String" ? "string" : "boolean")) {
        return undefined
      }
      encoded[name] = value
    }
    return encoded
  }
}
