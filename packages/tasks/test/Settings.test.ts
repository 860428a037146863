/**
 * Settings over their defaults: nothing given, an omitted setting and one
 * given as `undefined` all keep the default; a setting given replaces it,
 * falsy values (0, false, "") included; the defaults themselves are never
 * changed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Settings from "../src/Settings.ts"

interface Example {
  readonly limit: number
  readonly name: string
  readonly on: boolean
}

const defaults: Example = { limit: 100, name: "tasks", on: true }

describe("Settings.withDefaults", () => {
  it("nothing given is the defaults", () => {
    assert.deepStrictEqual(Settings.withDefaults(defaults, undefined), defaults)
    assert.deepStrictEqual(Settings.withDefaults(defaults, {}), defaults)
  })

  it("a setting given as undefined keeps its default; one given replaces it, falsy values included", () => {
    assert.deepStrictEqual(Settings.withDefaults(defaults, { limit: undefined, name: "x" }), { limit: 100, name: "x", on: true })
    assert.deepStrictEqual(Settings.withDefaults(defaults, { limit: 0, name: "", on: false }), { limit: 0, name: "", on: false })
  })

  it("the defaults are left as they were", () => {
    const result = Settings.withDefaults(defaults, { limit: 5 })
    assert.notStrictEqual(result, defaults)
    assert.deepStrictEqual(defaults, { limit: 100, name: "tasks", on: true })
    assert.notStrictEqual(Settings.withDefaults(defaults, undefined), defaults)
  })
})
