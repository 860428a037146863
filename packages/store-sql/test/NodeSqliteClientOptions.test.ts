/**
 * The settings of `NodeSqliteClient` and the statement forms the store does
 * not use itself, on both homes of the database: a read-only client reads
 * and refuses to write, `wal: false` keeps the rollback journal, raw
 * statements answer with change counts, unprepared statements and value rows
 * read as prepared ones do, and by default a statement waits for a lock
 * another process holds for a moment instead of failing at once. Statement
 * spans name the database; a worker-thread client closed while a statement
 * waits for the connection fails that statement instead of leaving it hanging.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Stream, Tracer } from "effect"
import { SqlClient } from "effect/sql"
import { spawn } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"
import { recordingTracer } from "./spanRecorder.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"
import { closedWhileWaiting } from "./workerClose.ts"

/** Runs `body` against a client on `filename`, on a worker thread or not; the database is closed when it ends. */
const withClientOn = (worker: boolean) =>
<A, E>(
  filename: string,
  body: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>,
  config: Partial<NodeSqliteClient.NodeSqliteClientConfig> = {}
) => Effect.provide(Effect.flatMap(SqlClient.SqlClient, body), NodeSqliteClient.layer({ filename, worker, ...config }), { local: true })

/**
 * The setup and the checks around the client a test is about, on the
 * calling thread: a worker thread's start is most of a worker test's time
 * (≈ 0.75 s at load average 14, ≈ 1.5 s at 18: Node strips the types of the
 * thread's modules in each new thread), so each test starts at most the
 * threads it tests. The `wal: false` test opened three and ran past vitest's
 * 5 s under load.
 */
const onCallingThread = withClientOn(false)

for (const worker of [false, true]) {
  const withClient = withClientOn(worker)

  describe(`NodeSqliteClient settings ${worker ? "on a worker thread" : "on the calling thread"}`, () => {
    it.effect("wal: false keeps the rollback journal; a later open with the defaults turns the write-ahead log on", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        const journal = yield* withClient(file, (sql) =>
          Effect.gen(function*() {
            yield* sql`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)`
            yield* sql`INSERT INTO items (id, name) VALUES (1, 'a')`
            return (yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`)[0].journal_mode
          }), { wal: false })
        assert.strictEqual(journal, "delete")
        const after = yield* onCallingThread(file, (sql) =>
          Effect.all([sql`SELECT id, name FROM items`, sql<{ journal_mode: string }>`PRAGMA journal_mode`]))
        assert.deepStrictEqual(after, [[{ id: 1, name: "a" }], [{ journal_mode: "wal" }]])
      }))

    it.effect("a read-only client reads a rollback-journal database and refuses to write, changing nothing", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        yield* onCallingThread(file, (sql) =>
          Effect.andThen(
            sql`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)`,
            sql`INSERT INTO items (id, name) VALUES (1, 'a')`
          ), { wal: false })
        const [rows, refused] = yield* withClient(file, (sql) =>
          Effect.all([
            sql`SELECT id, name FROM items`,
            Effect.flip(sql`INSERT INTO items (id, name) VALUES (2, 'b')`)
          ]), { readOnly: true })
        assert.deepStrictEqual(rows, [{ id: 1, name: "a" }])
        assert.strictEqual(refused._tag, "SqlError")
        assert.match(refused.message, /readonly/)
        const after = yield* onCallingThread(file, (sql) => sql`SELECT id, name FROM items`, { wal: false })
        assert.deepStrictEqual(after, [{ id: 1, name: "a" }])
      }))

    // One client per test: a worker-thread client starts a thread of its own, and
    // five started in one test outlasted the test's budget on a loaded machine.
    for (const [synchronous, level] of [["OFF", 0], ["NORMAL", 1], ["FULL", 2], ["EXTRA", 3]] as const) {
      it.effect(`opens with synchronous=${synchronous}`, () =>
        Effect.gen(function*() {
          const file = yield* tempDatabaseFile
          const read = yield* withClient(file, (sql) => Effect.map(sql<{ synchronous: number }>`PRAGMA synchronous`, ([row]) => row.synchronous), {
            synchronous
          })
          assert.strictEqual(read, level)
        }))
    }

    it.effect("names the synchronous levels when refusing another", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        const refused = yield* Effect.flip(withClient(file, () => Effect.void, { synchronous: "full" as NodeSqliteClient.Synchronous }))
        assert.strictEqual(refused.message, `synchronous must be one of OFF, NORMAL, FULL, EXTRA, not "full"`)
      }))

    it.effect("a file that is not a SQLite database fails the layer, and the file is left as it was", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        const text = "not a database, but long enough to hold a header's worth of bytes: ".repeat(4)
        writeFileSync(file, text)
        const error = yield* Effect.flip(Layer.build(NodeSqliteClient.layer({ filename: file, worker })))
        assert.strictEqual(error._tag, "SqlError")
        assert.match(error.message, /not a database/)
        assert.strictEqual(readFileSync(file, "utf8"), text)
      }))

    it.effect("a nested transaction that succeeds keeps its writes; a failed one undoes only its own", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        const rows = yield* withClient(file, (sql) =>
          Effect.gen(function*() {
            yield* sql`CREATE TABLE items (id INTEGER PRIMARY KEY)`
            yield* sql.withTransaction(Effect.gen(function*() {
              yield* sql`INSERT INTO items (id) VALUES (1)`
              yield* sql.withTransaction(sql`INSERT INTO items (id) VALUES (2)`)
              yield* Effect.exit(sql.withTransaction(Effect.andThen(sql`INSERT INTO items (id) VALUES (3)`, Effect.fail("inner"))))
              yield* sql.withTransaction(sql`INSERT INTO items (id) VALUES (4)`)
            }))
            return yield* sql<{ id: number }>`SELECT id FROM items ORDER BY id`.values
          }))
        assert.deepStrictEqual(rows, [[1], [2], [4]])
      }))

    it.effect("a parameter left undefined binds as NULL", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        const rows = yield* withClient(file, (sql) => sql`SELECT ${undefined as unknown as string} AS x, ${true} AS y`)
        assert.deepStrictEqual(rows, [{ x: null, y: 1 }])
      }))

    it.effect("errors name the operation that failed: executing, streaming", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        const execute = yield* withClient(file, (sql) => Effect.flip(sql`SELEC 1`))
        assert.strictEqual(execute.reason.operation, "execute")
        if (!worker) {
          const stream = yield* withClient(file, (sql) => Effect.flip(Stream.runCollect(sql`SELEC 1`.stream)))
          assert.strictEqual(stream.reason.operation, "stream")
        }
      }))

    // A test of its own: a thread is started for it even though the open fails.
    it.effect("errors name the operation that failed: opening", () =>
      Effect.gen(function*() {
        const open = yield* Effect.flip(Layer.build(NodeSqliteClient.layer({ filename: "/no/such/directory/tasks.db", worker })))
        assert.strictEqual(open.reason.operation, "open")
      }))

    it.effect("closing the client closes the database: the write-ahead log is folded into the file and removed", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        yield* withClient(file, (sql) =>
          Effect.gen(function*() {
            yield* sql`CREATE TABLE items (id INTEGER PRIMARY KEY)`
            yield* sql`INSERT INTO items (id) VALUES (1)`
            assert.isTrue(existsSync(`${file}-wal`), "no write-ahead log while open")
          }))
        assert.isFalse(existsSync(`${file}-wal`), "the write-ahead log outlived the client")
      }))

    it.effect("a raw statement answers with its change count, a raw query with its rows", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        const [created, inserted, updated, selected] = yield* withClient(file, (sql) =>
          Effect.all([
            sql`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)`.raw,
            sql`INSERT INTO items (id, name) VALUES (7, 'a'), (8, 'b')`.raw,
            sql`UPDATE items SET name = 'c' WHERE id = 8`.raw,
            sql`SELECT id, name FROM items ORDER BY id`.raw
          ]))
        assert.deepStrictEqual(created, { changes: 0, lastInsertRowid: 0 })
        assert.deepStrictEqual(inserted, { changes: 2, lastInsertRowid: 8 })
        assert.deepStrictEqual(updated, { changes: 1, lastInsertRowid: 8 })
        assert.deepStrictEqual(selected, [{ id: 7, name: "a" }, { id: 8, name: "c" }])
      }))

    it.effect("unprepared statements and value rows read as prepared ones do", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        const read = yield* withClient(file, (sql) =>
          Effect.gen(function*() {
            yield* sql`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)`.unprepared
            yield* sql`INSERT INTO items (id, name) VALUES (${1}, ${"a"}), (${2}, ${"b"})`.unprepared
            const select = sql`SELECT id, name FROM items ORDER BY id`
            return [yield* select.unprepared, yield* select.valuesUnprepared, yield* select.values, yield* select] as const
          }))
        assert.deepStrictEqual(read, [
          [{ id: 1, name: "a" }, { id: 2, name: "b" }],
          [[1, "a"], [2, "b"]],
          [[1, "a"], [2, "b"]],
          [{ id: 1, name: "a" }, { id: 2, name: "b" }]
        ])
      }))

    it.effect("by default a write waits for a lock another process holds for a moment", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        yield* withClient(file, (sql) => sql`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT)`)
        // Another process takes the write lock, says so, and commits its own row 300 ms later.
        const holder = yield* Effect.acquireRelease(
          Effect.sync(() =>
            spawn(process.execPath, [
              "-e",
              `const db = new (require("node:sqlite").DatabaseSync)(${JSON.stringify(file)});
               db.exec("BEGIN IMMEDIATE; INSERT INTO items (id, name) VALUES (1, 'other')");
               console.log("locked");
               setTimeout(() => { db.exec("COMMIT"); db.close() }, 300)`
            ], { stdio: ["ignore", "pipe", "inherit"] })
          ),
          (child) => Effect.sync(() => child.kill())
        )
        yield* Effect.callback<void>((resume) => {
          holder.stdout!.once("data", () => resume(Effect.void))
        })
        const rows = yield* withClient(file, (sql) =>
          Effect.andThen(
            sql`INSERT INTO items (id, name) VALUES (2, 'mine')`,
            sql`SELECT id, name FROM items ORDER BY id`
          ))
        assert.deepStrictEqual(rows, [{ id: 1, name: "other" }, { id: 2, name: "mine" }])
      }))
  })
}

describe("NodeSqliteClient statement spans", () => {
  for (const worker of [false, true]) {
    it.effect(`name the database system and file, with the configured attributes (${worker ? "worker thread" : "calling thread"})`, () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        const { spans, tracer } = recordingTracer()
        const driver = yield* Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql`SELECT 1 AS one`
          return sql.driver
        }).pipe(
          Effect.provide(NodeSqliteClient.layer({ filename: file, worker, spanAttributes: { "service.name": "ledger" } }), {
            local: true
          }),
          Effect.provideService(Tracer.Tracer, tracer)
        )
        assert.strictEqual(driver, "node-sqlite")
        const statement = spans.find((span) => span.attributes.get("db.query.text") === "SELECT 1 AS one")
        assert.isDefined(statement)
        assert.strictEqual(statement!.attributes.get("db.system.name"), "sqlite")
        assert.strictEqual(statement!.attributes.get("db.namespace"), file)
        assert.strictEqual(statement!.attributes.get("service.name"), "ledger")
      }))
  }
})

describe("NodeSqliteClient on a worker thread, closed while statements wait", () => {
  it.effect("the running statement completes and one waiting for the connection fails with a connection error", () =>
    Effect.gen(function*() {
      const { counted, stopped: error } = yield* closedWhileWaiting
      assert.deepStrictEqual(counted, [{ n: 2_000_000 }])
      assert.strictEqual(error.reason._tag, "ConnectionError")
      assert.match(error.message, /worker thread stopped/)
      assert.strictEqual(error.reason.operation, "execute")
    }))
})

describe("NodeSqliteClient on the calling thread, errors name the operation that failed", () => {
  it.effect("a raw statement's as execute, a transact's as transact, a stream's failing after its first chunk as stream", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabaseFile
      const failures = yield* Effect.gen(function*() {
        const client = yield* NodeSqliteClient.NodeSqliteClient
        // Rows up to 149 read, then an integer overflow: the second chunk of 128 rows fails, not the statement.
        const overflowing = client`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200)
          SELECT CASE WHEN x < 150 THEN x ELSE abs(-9223372036854775808) END AS v FROM c`
        return yield* Effect.all([
          Effect.flip(client`SELEC 1`.raw),
          Effect.flip(client.transact([{ sql: "SELEC 1", params: [] }])),
          Effect.flip(Stream.runCollect(overflowing.stream))
        ])
      }).pipe(Effect.provide(NodeSqliteClient.layer({ filename: file }), { local: true }))
      assert.deepStrictEqual(failures.map((failure) => failure.reason.operation), ["execute", "transact", "stream"])
      assert.match(failures[2].message, /integer overflow/)
    }))
})

describe("NodeSqliteClient's transact, traced", () => {
  it.effect("is one client span, sql.transaction, with its batch size and the client's attributes", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabaseFile
      const { spans, tracer } = recordingTracer()
      yield* Effect.gen(function*() {
        const client = yield* NodeSqliteClient.NodeSqliteClient
        yield* client.transact([{ sql: "SELECT 1", params: [] }, { sql: "SELECT 2", params: [] }])
      }).pipe(
        Effect.provide(NodeSqliteClient.layer({ filename: file, spanAttributes: { "service.name": "ledger" } }), { local: true }),
        Effect.provideService(Tracer.Tracer, tracer)
      )
      const transactions = spans.filter((span) => span.name === "sql.transaction")
      assert.strictEqual(transactions.length, 1)
      const [transaction] = transactions
      assert.strictEqual(transaction.kind, "client")
      assert.strictEqual(transaction.attributes.get("db.operation.batch.size"), 2)
      assert.strictEqual(transaction.attributes.get("db.system.name"), "sqlite")
      assert.strictEqual(transaction.attributes.get("db.namespace"), file)
      assert.strictEqual(transaction.attributes.get("service.name"), "ledger")
    }))
})
