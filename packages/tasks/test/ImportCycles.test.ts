/**
 * No source module of any package imports itself through others: a check over
 * every `packages/<name>/src` file's relative imports (type-only imports and
 * re-exports count), finding strongly connected components with Tarjan's
 * algorithm. A cycle fails the test with the files that form it.
 */
import { assert, describe, it } from "@effect/vitest"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { dirname, join, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..")

/** Every TypeScript file under `dir`, recursively. */
const sources = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sources(path)
    return /\.tsx?$/.test(name) ? [path] : []
  })

/** The relative module specifiers of one file: `import ... from`, `export ... from`, `import("...")` and bare `import "..."`. */
const specifiers = (text: string): Array<string> => {
  const found: Array<string> = []
  const patterns = [
    /\b(?:import|export)\s[^;'"]*?\bfrom\s*["'](\.{1,2}\/[^"']+)["']/g,
    /\bimport\s*\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g,
    /^\s*import\s*["'](\.{1,2}\/[^"']+)["']/gm
  ]
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) found.push(match[1])
  return found
}

/** The import graph of the given files: each file to the files it imports among them. */
export const importGraph = (files: ReadonlyArray<string>): Map<string, Array<string>> => {
  const known = new Set(files)
  const graph = new Map<string, Array<string>>()
  for (const file of files) {
    const targets = specifiers(readFileSync(file, "utf8"))
      .map((specifier) => resolve(dirname(file), specifier))
      .filter((target) => known.has(target))
    graph.set(file, targets)
  }
  return graph
}

/** The cycles of a graph: its strongly connected components of more than one node, and nodes importing themselves. */
export const cycles = <A>(graph: ReadonlyMap<A, ReadonlyArray<A>>): Array<Array<A>> => {
  const index = new Map<A, number>()
  const lowLink = new Map<A, number>()
  const onStack = new Set<A>()
  const stack: Array<A> = []
  const found: Array<Array<A>> = []
  let next = 0
  const visit = (node: A): void => {
    index.set(node, next)
    lowLink.set(node, next)
    next++
    stack.push(node)
    onStack.add(node)
    for (const target of graph.get(node) ?? []) {
      if (!index.has(target)) {
        visit(target)
        lowLink.set(node, Math.min(lowLink.get(node)!, lowLink.get(target)!))
      } else if (onStack.has(target)) {
        lowLink.set(node, Math.min(lowLink.get(node)!, index.get(target)!))
      }
    }
    if (lowLink.get(node) !== index.get(node)) return
    const component: Array<A> = []
    let member: A
    do {
      member = stack.pop()!
      onStack.delete(member)
      component.push(member)
    } while (member !== node)
    if (component.length > 1 || (graph.get(node) ?? []).includes(node)) found.push(component)
  }
  for (const node of graph.keys()) if (!index.has(node)) visit(node)
  return found
}

describe("import cycles", () => {
  it("finds a cycle when there is one, and none in a chain", () => {
    const cyclic = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]])
    assert.deepStrictEqual(cycles(cyclic).map((c) => [...c].sort()), [["a", "b", "c"]])
    assert.deepStrictEqual(cycles(new Map([["a", ["b"]], ["b", []]])), [])
    assert.deepStrictEqual(cycles(new Map([["a", ["a"]]])), [["a"]])
  })

  it("there are none among the source files of the packages", () => {
    const packages = join(root, "packages")
    const files = readdirSync(packages)
      .map((name) => join(packages, name, "src"))
      .filter((dir) => statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true)
      .flatMap(sources)
    assert.isAbove(files.length, 10)
    const found = cycles(importGraph(files)).map((cycle) => cycle.map((file) => relative(root, file)).join(" -> "))
    assert.deepStrictEqual(found, [])
  })
})
