import { assert, layer } from "@effect/vitest"
import { Effect } from "effect"
import type { ChainSetting } from "../src/ServerConfig.ts"
import { request, testServer } from "./http.ts"

const mainnet: ChainSetting = { name: "mainnet", chainId: 1, endpoints: [{ url: "http://127.0.0.1:9/never-called" }] }

/** Every operation of an OpenAPI document, with its method and path. */
const operations = (spec: any) =>
  Object.entries<any>(spec.paths).flatMap(([path, item]) =>
    Object.entries<any>(item).map(([method, operation]) => ({ path, method, operation })))

layer(testServer({ chains: [mainnet] }), { excludeTestServices: true })("REST kinds and the OpenAPI document", (it) => {
  it.effect("a kind name with a slash works in a URL as printed; the interrupt route stays", () =>
    Effect.gen(function*() {
      const failed = yield* request("POST", "/api/tasks/chain/fetch-blocks?wait=true", {
        body: { chain: "ropsten", fromBlock: 1, toBlock: 2 }
      })
      assert.strictEqual(failed.status, 200)
      assert.strictEqual(failed.body.kind, "chain/fetch-blocks")
      assert.strictEqual(failed.body.createdAtIso, new Date(failed.body.createdAt).toISOString())
      assert.strictEqual(failed.body.finishedAtIso, new Date(failed.body.finishedAt).toISOString())
      const listed = yield* request("GET", "/api/tasks?kind=chain/fetch-blocks")
      assert.strictEqual(listed.body.items[0].createdAtIso, failed.body.createdAtIso)
      assert.include(failed.body.errorMessage, "ropsten")
      const unknown = yield* request("POST", "/api/tasks/chain/no-such-kind", { body: {} })
      assert.strictEqual(unknown.status, 404)
      assert.strictEqual(unknown.body.kind, "chain/no-such-kind")
      const accepted = yield* request("POST", "/api/tasks/demo-scan", { body: { fromBlock: 0, toBlock: 1000, delayMillis: 1000 } })
      const interrupted = yield* request("POST", `/api/tasks/${accepted.body.taskId}/interrupt`)
      assert.strictEqual(interrupted.body.status, "interrupted")
    }))

  it.effect("only `<id>/interrupt` is the interrupt route: a kind of three segments ending so, or one starting with `interrupt`, is a kind", () =>
    Effect.gen(function*() {
      // Neither kind exists: the submission reaching the submit route answers UnknownTaskKind naming the whole kind,
      // where one left to the router (taken for an interrupt) finds no route.
      for (const kind of ["chain/no-such/interrupt", "chain/interrupted-scan"]) {
        const reply = yield* request("POST", `/api/tasks/${kind}`, { body: {} })
        assert.strictEqual(reply.status, 404, kind)
        assert.strictEqual(reply.body._tag, "UnknownTaskKind", kind)
        assert.strictEqual(reply.body.kind, kind)
      }
    }))

  it.effect("the document has one typed submit operation per kind, summaries, servers, integers and finite numbers", () =>
    Effect.gen(function*() {
      const spec = (yield* request("GET", "/openapi.json")).body
      assert.isAbove(spec.servers.length, 0)
      assert.notInclude(Object.keys(spec.paths), "/api/tasks/{kind}")
      for (const { method, operation, path } of operations(spec)) {
        assert.isString(operation.summary, `${method} ${path} has a summary`)
      }
      const scan = spec.paths["/api/tasks/chain/scan-addresses"].post
      const body = scan.requestBody.content["application/json"].schema
      // toBlock is optional: a scan without it runs to the head
      assert.includeMembers(body.required, ["chain", "addresses", "fromBlock"])
      assert.includeMembers(Object.keys(scan.responses), ["200", "202", "400", "415"])
      assert.strictEqual(scan.parameters.find((p: any) => p.name === "priority").schema.type, "integer")
      const list = spec.paths["/api/tasks"].get.parameters
      assert.strictEqual(list.find((p: any) => p.name === "page").schema.type, "integer")
      assert.strictEqual(list.find((p: any) => p.name === "limit").schema.type, "integer")
      assert.notInclude(JSON.stringify(spec), "\"NaN\"")
      assert.include(Object.keys(spec.paths["/api/purge"].post.responses), "400")
    }))

  it.effect("GET /api/counts counts stored tasks by status, of one kind if asked", () =>
    Effect.gen(function*() {
      const before = (yield* request("GET", "/api/counts?kind=demo-fail")).body
      yield* request("POST", "/api/tasks/demo-fail?wait=true", { body: { steps: 1, delayMillis: 0 } })
      yield* request("POST", "/api/tasks/demo-fail?wait=true", { body: { steps: 1, delayMillis: 0 } })
      yield* request("POST", "/api/tasks/demo-scan?wait=true", { body: { fromBlock: 1, toBlock: 1, delayMillis: 0 } })
      const failing = yield* request("GET", "/api/counts?kind=demo-fail")
      assert.strictEqual(failing.status, 200)
      assert.deepStrictEqual(failing.body, { ...before, failed: before.failed + 2 })
      const all = (yield* request("GET", "/api/counts")).body
      const listed = (yield* request("GET", "/api/tasks?limit=1000")).body.items as ReadonlyArray<{ status: string }>
      for (const status of ["pending", "running", "completed", "failed", "interrupted"]) {
        assert.strictEqual(all[status], listed.filter((info) => info.status === status).length, status)
      }
    }))

  it.effect("InvalidPayload names every bad field", () =>
    Effect.gen(function*() {
      const invalid = yield* request("POST", "/api/tasks/chain/scan-addresses", {
        body: { chain: 7, addresses: "0x1", fromBlock: "one", toBlock: 2 }
      })
      assert.strictEqual(invalid.status, 400)
      assert.strictEqual(invalid.body._tag, "InvalidPayload")
      const paths = invalid.body.issues.map((issue: any) => issue.path.join("."))
      assert.includeMembers(paths, ["chain", "addresses", "fromBlock"])
    }))

  it.effect("the docs page loads no outside script or font", () =>
    Effect.gen(function*() {
      const docs = yield* request("GET", "/docs")
      assert.notMatch(docs.text, /<script[^>]+src="https?:/)
      assert.match(docs.text, /withDefaultFonts"?\s*:\s*false/)
      assert.match(docs.text, /preferredSecurityScheme"?\s*:\s*"bearer"/)
      // the document the page shows is `/openapi.json`'s, each registered kind's own submit operation in it
      assert.include(docs.text, "/api/tasks/chain/scan-addresses")
    }))

  it.effect("a kind written as printed (with its `/`) keeps the submission's query: ?wait=true answers the final record", () =>
    Effect.gen(function*() {
      // No chain of that name: the task fails at once, and `?wait=true` answers its record instead of a 202.
      const reply = yield* request("POST", "/api/tasks/chain/scan-addresses?wait=true", {
        body: { chain: "ropsten", addresses: ["0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"], fromBlock: 1, toBlock: 2 }
      })
      assert.strictEqual(reply.status, 200, reply.text)
      assert.strictEqual(reply.body.kind, "chain/scan-addresses")
      assert.strictEqual(reply.body.status, "failed")
      assert.include(reply.body.errorMessage, "ropsten")
    }))
})
