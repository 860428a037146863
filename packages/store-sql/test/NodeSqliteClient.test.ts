import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Latch, Layer, Scope, Stream } from "effect"
import { SqlClient } from "effect/sql"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"

const createTable = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, flag INTEGER, at TEXT)`
})

// Every test runs against both homes of the database: the calling thread and a worker thread.
for (const worker of [false, true]) {
  /** Runs `body` against a client on `filename`; the database is closed when it ends. */
  const withClient = <A, E>(
    filename: string,
    body: Effect.Effect<A, E, SqlClient.SqlClient | NodeSqliteClient.NodeSqliteClient>,
    config: Partial<NodeSqliteClient.NodeSqliteClientConfig> = {}
  ) => Effect.provide(body, NodeSqliteClient.layer({ filename, worker, ...config }), { local: true })

  /** A test against a client on a fresh file holding an empty `items` table. */
  const withItems = (
    title: string,
    body: (sql: SqlClient.SqlClient) => Effect.Effect<void, unknown, NodeSqliteClient.NodeSqliteClient>,
    config: Partial<NodeSqliteClient.NodeSqliteClientConfig> = {}
  ) =>
    it.effect(title, () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        yield* withClient(file, Effect.gen(function*() {
          yield* createTable
          yield* body(yield* SqlClient.SqlClient)
        }), config)
      }))

  describe(`NodeSqliteClient ${worker ? "on a worker thread" : "on the calling thread"}`, () => {
    it.effect("opens a file in WAL mode with the configured synchronous level", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        yield* withClient(file, Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const [journal] = yield* sql<{ journal_mode: string }>`PRAGMA journal_mode`
          const [sync] = yield* sql<{ synchronous: number }>`PRAGMA synchronous`
          assert.strictEqual(journal.journal_mode, "wal")
          assert.strictEqual(sync.synchronous, 2) // FULL
          assert.strictEqual(sql.onDialectOrElse({ sqlite: () => "sqlite", orElse: () => "other" }), "sqlite")
        }))
        yield* withClient(file, Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          const [sync] = yield* sql<{ synchronous: number }>`PRAGMA synchronous`
          assert.strictEqual(sync.synchronous, 1)
        }), { synchronous: "NORMAL" })
      }))

    withItems("binds booleans, dates and undefined, and returns rows as objects or arrays", (sql) =>
      Effect.gen(function*() {
        const at = new Date(Date.UTC(2026, 0, 2))
        yield* sql`INSERT INTO items ${sql.insert({ id: 1, name: "a", flag: true, at })}`
        yield* sql`INSERT INTO items ${sql.insert({ id: 2, name: "b", flag: false, at: undefined })}`
        const rows = yield* sql`SELECT id, name, flag, at FROM items ORDER BY id`
        assert.deepStrictEqual(rows, [
          { id: 1, name: "a", flag: 1, at: "2026-01-02T00:00:00.000Z" },
          { id: 2, name: "b", flag: 0, at: null }
        ])
        assert.deepStrictEqual(yield* sql`SELECT id, name FROM items ORDER BY id`.values, [[1, "a"], [2, "b"]])
        // The same cached statement serves objects again after serving arrays.
        assert.deepStrictEqual(yield* sql`SELECT id, name FROM items ORDER BY id`, [{ id: 1, name: "a" }, { id: 2, name: "b" }])
      }))

    withItems("keeps working when more distinct statements run than the cache holds", (sql) =>
      Effect.gen(function*() {
        for (let round = 0; round < 3; round++) {
          for (let id = 1; id <= 5; id++) {
            yield* sql`INSERT OR REPLACE INTO items (id, name) VALUES (${id}, ${`item-${id}`})`
            yield* sql.unsafe(`SELECT name FROM items WHERE id = ${id}`)
          }
        }
        const rows = yield* sql<{ n: number }>`SELECT count(*) AS n FROM items`
        assert.strictEqual(rows[0].n, 5)
      }), { preparedStatementCacheSize: 2 })

    withItems("classifies constraint violations", (sql) =>
      Effect.gen(function*() {
        yield* sql`INSERT INTO items (id, name) VALUES (1, 'a')`
        const unique = yield* Effect.flip(sql`INSERT INTO items (id, name) VALUES (2, 'a')`)
        assert.strictEqual(unique.reason._tag, "UniqueViolation")
        const primaryKey = yield* Effect.flip(sql`INSERT INTO items (id, name) VALUES (1, 'b')`)
        assert.strictEqual(primaryKey.reason._tag, "ConstraintError")
        const syntax = yield* Effect.flip(sql`SELEC 1`)
        assert.strictEqual(syntax.reason._tag, "UnknownError")
        assert.match(syntax.message, /syntax error/)
      }))

    withItems("rolls back a failed transaction and a failed savepoint", (sql) =>
      Effect.gen(function*() {
        const failed = yield* Effect.exit(sql.withTransaction(Effect.andThen(
          sql`INSERT INTO items (id, name) VALUES (1, 'a')`,
          Effect.fail("boom")
        )))
        assert.isTrue(Exit.isFailure(failed))
        yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`INSERT INTO items (id, name) VALUES (2, 'b')`
          yield* Effect.exit(sql.withTransaction(Effect.andThen(sql`INSERT INTO items (id, name) VALUES (3, 'c')`, Effect.fail("inner"))))
      }))
      assert.deepStrictEqual(yield* sql`SELECT id FROM items`.values, [[2]])
      }))

    // A statement, or a `transact` call, from another fiber: each reads the item count.
    const countReaders: ReadonlyArray<
      readonly [string, (sql: SqlClient.SqlClient) => Effect.Effect<unknown, unknown, NodeSqliteClient.NodeSqliteClient>]
    > = [
      ["a statement", (sql) => sql`SELECT count(*) AS n FROM items`.values],
      ["transact", () =>
        Effect.flatMap(NodeSqliteClient.NodeSqliteClient, (client) =>
          Effect.map(client.transact([{ sql: "SELECT count(*) AS n FROM items", params: [] }]), ([rows]) => rows))]
    ]
    for (const [what, countItems] of countReaders) {
      withItems(`${what} from another fiber waits for an open transaction instead of joining it`, (sql) =>
        Effect.gen(function*() {
          const inside = yield* Latch.make()
          const finish = yield* Latch.make()
          const transaction = yield* Effect.forkChild(sql.withTransaction(Effect.gen(function*() {
            yield* sql`INSERT INTO items (id, name) VALUES (1, 'a')`
            yield* inside.open
            yield* finish.await
            yield* sql`INSERT INTO items (id, name) VALUES (2, 'b')`
          })))
          yield* inside.await
          const read = yield* Effect.forkChild(countItems(sql))
          for (let i = 0; i < 10; i++) yield* Effect.yieldNow
          assert.isUndefined(read.pollUnsafe(), "the read ran inside another fiber's transaction")
          yield* finish.open
          yield* Fiber.join(transaction)
          assert.deepStrictEqual(yield* Fiber.join(read), [[2]])
        }))
    }

    withItems("transact commits its statements together and returns each one's rows as arrays", (sql) =>
      Effect.gen(function*() {
        const client = yield* NodeSqliteClient.NodeSqliteClient
        const results = yield* client.transact([
          { sql: "INSERT INTO items (id, name, flag) VALUES (?, ?, ?), (?, ?, ?) RETURNING id", params: [1, "a", 1, 2, "b", null] },
          { sql: "UPDATE items SET name = ? WHERE id = ?", params: ["b2", 2] },
          { sql: "SELECT id, name, flag FROM items ORDER BY id", params: [] }
        ])
        assert.deepStrictEqual(results, [[[1], [2]], [], [[1, "a", 1], [2, "b2", null]]])
        // Committed, and the connection is free again: no transaction is left open.
        assert.deepStrictEqual(yield* sql`SELECT id, name FROM items ORDER BY id`.values, [[1, "a"], [2, "b2"]])
        yield* sql.withTransaction(sql`INSERT INTO items (id, name) VALUES (3, 'c')`)
      }))

    withItems("transact runs an expected statement without rows back; one that changes fewer is undone, its first statement run, then it again", (sql) =>
      Effect.gen(function*() {
        const client = yield* NodeSqliteClient.NodeSqliteClient
        yield* sql`INSERT INTO items (id, name) VALUES (2, 'b')`
        /** Inserts the ids that do not exist, answering with those that did. */
        const insert = (ids: ReadonlyArray<number>): NodeSqliteClient.TransactStatement => ({
          sql: `INSERT INTO items (id, name) VALUES ${ids.map(() => "(?, ?)").join(", ")} ON CONFLICT (id) DO NOTHING`,
          params: ids.flatMap((id) => [id, `n${id}`]),
          expected: {
            changes: ids.length,
            first: { sql: `SELECT id FROM items WHERE id IN (${ids.map(() => "?").join(", ")}) ORDER BY id`, params: ids }
          }
        })
        const results = yield* client.transact([
          { sql: "UPDATE items SET flag = 1 WHERE id = 2", params: [] },
          insert([4, 5]),
          insert([1, 2, 3]),
          insert([6]),
          insert([2])
        ])
        // The query saw the table as it was before the insert: only 2 existed. A lone insert of it answers the same.
        assert.deepStrictEqual(results, [[], [], [[2]], [], [[2]]])
        // What came before the undone statement stayed; each new id is stored, the existing one unchanged.
        assert.deepStrictEqual(yield* sql`SELECT id, name, flag FROM items ORDER BY id`.values, [
          [1, "n1", null],
          [2, "b", 1],
          [3, "n3", null],
          [4, "n4", null],
          [5, "n5", null],
          [6, "n6", null]
        ])
      }))

    withItems("transact fails with its first failing statement and stores none of them", (sql) =>
      Effect.gen(function*() {
        const client = yield* NodeSqliteClient.NodeSqliteClient
        yield* sql`INSERT INTO items (id, name) VALUES (1, 'a')`
        const error = yield* Effect.flip(client.transact([
          { sql: "INSERT INTO items (id, name) VALUES (?, ?)", params: [2, "b"] },
          { sql: "INSERT INTO items (id, name) VALUES (?, ?)", params: [3, "a"] }, // name is UNIQUE
          { sql: "INSERT INTO items (id, name) VALUES (?, ?)", params: [4, "d"] }
        ]))
        assert.strictEqual(error._tag, "SqlError")
        assert.strictEqual(error.reason._tag, "UniqueViolation")
        assert.deepStrictEqual(yield* sql`SELECT id FROM items ORDER BY id`.values, [[1]])
        // Rolled back: the next transaction begins.
        yield* client.transact([{ sql: "INSERT INTO items (id, name) VALUES (?, ?)", params: [5, "e"] }])
        assert.deepStrictEqual(yield* sql`SELECT id FROM items ORDER BY id`.values, [[1], [5]])
      }))

    withItems("streams large results in chunks", (sql) =>
      Effect.gen(function*() {
        const rows = Array.from({ length: 1003 }, (_, i) => ({ id: i + 1, name: `n${i}` }))
        yield* sql`INSERT INTO items ${sql.insert([rows[0], ...rows.slice(1)])}`
        const chunks = yield* sql<{ id: number }>`SELECT id FROM items ORDER BY id`.stream.pipe(
          Stream.chunks,
          Stream.map((chunk) => chunk.map((row) => row.id)),
          Stream.runCollect
        )
        assert.deepStrictEqual(chunks.flat(), rows.map((row) => row.id))
        // On the calling thread rows are read 128 at a time; across the thread boundary the query is read whole.
        if (!worker) assert.deepStrictEqual(chunks.map((chunk) => chunk.length), [128, 128, 128, 128, 128, 128, 128, 107])
      }))

    withItems("a stream stopped early releases its statement, so the WAL can be checkpointed", (sql) =>
      Effect.gen(function*() {
        const rows = Array.from({ length: 300 }, (_, i) => ({ id: i + 1, name: `n${i}` }))
        yield* sql`INSERT INTO items ${sql.insert([rows[0], ...rows.slice(1)])}`
        const first = yield* sql<{ id: number }>`SELECT id FROM items ORDER BY id`.stream.pipe(Stream.take(1), Stream.runCollect)
        assert.deepStrictEqual(first, [{ id: 1 }])
        yield* sql`INSERT INTO items (id, name) VALUES (1000, 'later')`
        const [checkpoint] = yield* sql<{ busy: number }>`PRAGMA wal_checkpoint(TRUNCATE)`
        assert.strictEqual(checkpoint.busy, 0, "a reader still holds the WAL")
      }))

    it.effect("committed rows survive closing and reopening the file", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        yield* withClient(file, Effect.andThen(createTable, Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* sql.withTransaction(sql`INSERT INTO items (id, name) VALUES (1, 'kept')`)
        })))
        const rows = yield* withClient(file, Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          return yield* sql`SELECT name FROM items`
        }))
        assert.deepStrictEqual(rows, [{ name: "kept" }])
      }))

    it.effect("a file that cannot be opened fails the layer with a connection error", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Layer.build(NodeSqliteClient.layer({ filename: "/no/such/directory/tasks.db", worker })))
        assert.strictEqual(error.reason._tag, "ConnectionError")
      }))

    it.effect("refuses a synchronous level it does not know instead of running it as SQL", () =>
      Effect.gen(function*() {
        const file = yield* tempDatabaseFile
        // From configuration, a level is only a string at run time.
        const synchronous = "FULL; CREATE TABLE injected (x)" as NodeSqliteClient.Synchronous
        const error = yield* Effect.flip(Layer.build(NodeSqliteClient.layer({ filename: file, worker, synchronous })))
        assert.match(error.message, /synchronous must be one of/)
        const tables = yield* withClient(file, Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          return yield* sql<{ name: string }>`SELECT name FROM sqlite_master`
        }))
        assert.deepStrictEqual(tables, [])
      }))

    it.effect("provides the same client under both tags", () =>
      Effect.gen(function*() {
        const context = yield* Layer.build(NodeSqliteClient.layer({ filename: ":memory:", worker }))
        const client = Context.get(context, NodeSqliteClient.NodeSqliteClient)
        assert.strictEqual(client, Context.get(context, SqlClient.SqlClient))
        assert.strictEqual(client.config.filename, ":memory:")
      }))
  })
}

describe("NodeSqliteClient on a worker thread", () => {
  it.effect("a parameter that cannot be sent to the thread fails its statement with a SqlError, and the client goes on", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const unsendable: unknown = () => 1
      const error = yield* Effect.flip(sql`SELECT ${unsendable as string} AS x`)
      assert.strictEqual(error._tag, "SqlError")
      assert.match(error.message, /could not be cloned/)
      assert.deepStrictEqual(yield* sql`SELECT 1 AS one`, [{ one: 1 }])
    }).pipe(Effect.provide(NodeSqliteClient.layer({ filename: ":memory:", worker: true }))))
})

describe("NodeSqliteClient on a worker thread, once closed", () => {
  it.effect("fails statements with a connection error instead of waiting for a thread that is gone", () =>
    Effect.gen(function*() {
      const file = yield* tempDatabaseFile
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(NodeSqliteClient.layer({ filename: file, worker: true }), scope)
      const sql = Context.get(context, SqlClient.SqlClient)
      yield* sql`SELECT 1`
      yield* Scope.close(scope, Exit.void)
      const error = yield* Effect.flip(sql`SELECT 1`)
      assert.strictEqual(error.reason._tag, "ConnectionError")
    }))
})

describe("NodeSqliteClient on the calling thread, with a transaction begun by hand", () => {
  it.effect("transact is refused with the reason, and the open transaction is left as it was", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const client = yield* NodeSqliteClient.NodeSqliteClient
      yield* createTable
      yield* sql`BEGIN`
      yield* sql`INSERT INTO items (id, name) VALUES (1, 'a')`
      const error = yield* Effect.flip(client.transact([{ sql: "INSERT INTO items (id, name) VALUES (2, 'b')", params: [] }]))
      assert.strictEqual(error.reason.operation, "transact")
      assert.strictEqual(error.reason.message, "transact: a transaction is already open on this connection")
      yield* sql`ROLLBACK`
      assert.deepStrictEqual(yield* sql`SELECT id FROM items`, [])
    }).pipe(Effect.provide(NodeSqliteClient.layer({ filename: ":memory:" }))))
})

describe("NodeSqliteClient on a worker thread, a parameter it cannot send", () => {
  it.effect("fails as the statement's execution", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const unsendable: unknown = Symbol("unsendable")
      const error = yield* Effect.flip(sql`SELECT ${unsendable as string} AS x`)
      assert.strictEqual(error.reason.operation, "execute")
    }).pipe(Effect.provide(NodeSqliteClient.layer({ filename: ":memory:", worker: true }))))
})

describe("NodeSqliteClient on the calling thread, a transact that SQLite rolls back itself", () => {
  it.effect("fails with the statement's own error (no second rollback), and the connection goes on", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const client = yield* NodeSqliteClient.NodeSqliteClient
      yield* createTable
      yield* sql`INSERT INTO items (id, name) VALUES (1, 'a')`
      // OR ROLLBACK: the violation ends the transaction before transact's own rollback would run.
      const error = yield* Effect.flip(client.transact([
        { sql: "INSERT INTO items (id, name) VALUES (2, 'b')", params: [] },
        { sql: "INSERT OR ROLLBACK INTO items (id, name) VALUES (3, 'a')", params: [] }
      ]))
      assert.strictEqual(error.reason._tag, "UniqueViolation")
      assert.deepStrictEqual(yield* sql`SELECT id FROM items`, [{ id: 1 }])
    }).pipe(Effect.provide(NodeSqliteClient.layer({ filename: ":memory:" }))))
})
