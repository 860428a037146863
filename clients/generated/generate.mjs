/**
 * Generates the TypeScript types of an OpenAPI document with openapi-typescript
 * (`node generate.mjs openapi.json schema.ts`). openapi-typescript runs on the
 * TypeScript 5 compiler API, installed in this folder apart from the
 * project's TypeScript 7, which has no compiler API.
 */
import { readFileSync, writeFileSync } from "node:fs"
import openapiTS, { astToString } from "openapi-typescript"

const [input, output] = process.argv.slice(2)
const ast = await openapiTS(JSON.parse(readFileSync(input, "utf8")))
writeFileSync(output, astToString(ast))
