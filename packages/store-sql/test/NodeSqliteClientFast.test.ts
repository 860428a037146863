/**
 * `NodeSqliteClient` and `internal/sqliteDatabase` in few tests, each on a
 * client of its own: aimed at mutation runs, where every mutant in `make` or
 * `open` runs every test that builds a client. `NodeSqliteClient.test` and
 * `NodeSqliteClientOptions.test` hold one behaviour a test, on both homes of
 * the database (83 tests, ≈ 70 s under load, a worker thread started in half
 * of them and a child process holding a lock); here each test checks a whole
 * area on the calling thread, and two tests start the only worker threads:
 * what the thread's protocol carries (statements, settings, errors,
 * `transact`, a lock waited for, a parameter it cannot send) and how it
 * ends (an open that fails, a close while statements wait). Each worker test may take a minute: a thread's
 * start and a count of two million rows take seconds on a loaded machine.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Fiber, Latch, Layer, Stream, Tracer } from "effect"
import { SqlClient, type SqlError } from "effect/sql"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { DatabaseSync } from "node:sqlite"
import * as NodeSqliteClient from "../src/NodeSqliteClient.ts"
import { recordingTracer } from "./spanRecorder.ts"
import { tempDatabaseFile } from "./tempDirectory.ts"
import { closedWhileWaiting } from "./workerClose.ts"

type Client = NodeSqliteClient.NodeSqliteClient["Service"]

/** Runs `body` on a client of `config` (on a fresh file unless it names one), closed when it ends. */
const withClient = <A, E>(config: Partial<NodeSqliteClient.NodeSqliteClientConfig>, body: (client: Client) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const filename = config.filename ?? (yield* tempDatabaseFile)
    return yield* Effect.flatMap(NodeSqliteClient.NodeSqliteClient, body).pipe(
      Effect.provide(NodeSqliteClient.layer({ ...config, filename }), { local: true })
    )
  })

/**
 * Waits until `reached()` is true, checking again after a pause that doubles from 1 ms (real time: the thread's
 * progress is not the test clock's) up to 100 ms; fails with `what` after 30 s of checks.
 */
const waitUntil = (reached: () => boolean, what: string) =>
  Effect.gen(function*() {
    for (let pause = 1, waited = 0; !reached(); waited += pause, pause = Math.min(100, pause * 2)) {
      if (waited >= 30_000) assert.fail(what)
      yield* Effect.callback<void>((resume) => {
        setTimeout(() => resume(Effect.void), pause)
      })
    }
  })

/** A pragma's value. */
const pragma = (client: Client, name: "journal_mode" | "synchronous" | "busy_timeout") =>
  Effect.map(client.unsafe<Record<string, unknown>>(`PRAGMA ${name}`), ([row]) => Object.values(row)[0])

/** The table the tests write: a unique name besides the key, so that both kinds of constraint can be broken. */
const createItems = (client: Client) => client`CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE, flag INTEGER, at TEXT)`

/** The ids in `items`, in order. */
const itemIds = (client: Client) => Effect.map(client<{ id: number }>`SELECT id FROM items ORDER BY id`.values, (rows) => rows.map(([id]) => id))

/** An insert statement for `transact` adding the ids missing, expected to change one row each, answering the ids that existed. */
const insertMissing = (ids: ReadonlyArray<number>): NodeSqliteClient.TransactStatement => ({
  sql: `INSERT INTO items (id, name) VALUES ${ids.map(() => "(?, ?)").join(", ")} ON CONFLICT (id) DO NOTHING`,
  params: ids.flatMap((id) => [id, `n${id}`]),
  expected: { changes: ids.length, first: { sql: `SELECT id FROM items WHERE id IN (${ids.map(() => "?").join(", ")}) ORDER BY id`, params: ids } }
})

/** The operation and reason of a failed statement. */
const failure = (error: SqlError.SqlError) => [error.reason.operation, error.reason._tag]

/**
 * The same statements, bound values and row forms on either home of the database. A failed `transact` is
 * `transactAs` (a worker thread's failures come back as the request's execution).
 */
const statementsAndRows = (client: Client, transactAs: "transact" | "execute") =>
  Effect.gen(function*() {
    yield* createItems(client)
    const at = new Date(Date.UTC(2026, 0, 2))
    yield* client`INSERT INTO items ${client.insert({ id: 1, name: "a", flag: true, at })}`
    yield* client`INSERT INTO items ${client.insert({ id: 2, name: "b", flag: false, at: undefined })}`
    const select = client`SELECT id, name, flag, at FROM items ORDER BY id`
    const objects = [{ id: 1, name: "a", flag: 1, at: "2026-01-02T00:00:00.000Z" }, { id: 2, name: "b", flag: 0, at: null }]
    const arrays = [[1, "a", 1, "2026-01-02T00:00:00.000Z"], [2, "b", 0, null]]
    // Objects again after arrays from the same cached statement; unprepared forms read the same.
    assert.deepStrictEqual([yield* select, yield* select.values, yield* select, yield* select.unprepared, yield* select.valuesUnprepared], [
      objects,
      arrays,
      objects,
      objects,
      arrays
    ])
    assert.deepStrictEqual(yield* client`UPDATE items SET name = 'c' WHERE id = 2`.raw, { changes: 1, lastInsertRowid: 2 })
    assert.deepStrictEqual(yield* client`SELECT id, name FROM items WHERE id = 2`.raw, [{ id: 2, name: "c" }])
    yield* client`INSERT INTO items (id, name) VALUES (3, 'd')`.unprepared
    // transact: rows as arrays; an expected insert answers no rows when it changed them all, else the ids that existed.
    const results = yield* client.transact([
      { sql: "UPDATE items SET flag = ? WHERE id = ?", params: [7, 3] },
      insertMissing([4, 5]),
      insertMissing([1, 6, 3]),
      insertMissing([8]),
      insertMissing([2]),
      { sql: "SELECT id, flag FROM items WHERE id IN (3, 6) ORDER BY id", params: [] }
    ])
    assert.deepStrictEqual(results, [[], [], [[1], [3]], [], [[2]], [[3, 7], [6, null]]])
    assert.deepStrictEqual(yield* itemIds(client), [1, 2, 3, 4, 5, 6, 8])
    // A failed transact stores nothing of it, with its first failure; the next one begins afresh.
    const refused = yield* Effect.flip(client.transact([
      { sql: "INSERT INTO items (id, name) VALUES (?, ?)", params: [9, "e"] },
      { sql: "INSERT INTO items (id, name) VALUES (?, ?)", params: [10, "a"] },
      { sql: "SELEC 1", params: [] }
    ]))
    assert.deepStrictEqual(failure(refused), [transactAs, "UniqueViolation"])
    yield* client.transact([{ sql: "INSERT INTO items (id, name) VALUES (?, ?)", params: [11, "f"] }])
    assert.deepStrictEqual(yield* itemIds(client), [1, 2, 3, 4, 5, 6, 8, 11])
    // Errors classified, with the database's own message.
    const errors = yield* Effect.all([
      Effect.flip(client`INSERT INTO items (id, name) VALUES (20, 'a')`),
      Effect.flip(client`INSERT INTO items (id, name) VALUES (1, 'z')`),
      Effect.flip(client`SELEC 1`),
      Effect.flip(client`SELEC 1`.raw)
    ])
    assert.deepStrictEqual(errors.map(failure), [
      ["execute", "UniqueViolation"],
      ["execute", "ConstraintError"],
      ["execute", "UnknownError"],
      ["execute", "UnknownError"]
    ])
    assert.match(errors[2].message, /syntax error/)
    assert.deepStrictEqual(yield* client`SELECT ${undefined as unknown as string} AS x, ${true} AS y`, [{ x: null, y: 1 }])
  })

/** A transaction holds the connection: a statement or a `transact` from another fiber waits for it to end. */
const othersWait = (client: Client) =>
  Effect.gen(function*() {
    for (const read of [client`SELECT count(*) AS n FROM items`.values, Effect.map(client.transact([{ sql: "SELECT count(*) FROM items", params: [] }]), ([rows]) => rows)]) {
      const before = (yield* client`SELECT count(*) AS n FROM items`.values)[0][0] as number
      const inside = yield* Latch.make()
      const finish = yield* Latch.make()
      const transaction = yield* Effect.forkChild(client.withTransaction(Effect.gen(function*() {
        yield* client`INSERT INTO items (name) VALUES (${`w${before}`})`
        yield* inside.open
        yield* finish.await
        yield* client`INSERT INTO items (name) VALUES (${`x${before}`})`
      })))
      yield* inside.await
      const reader = yield* Effect.forkChild(read)
      for (let i = 0; i < 10; i++) yield* Effect.yieldNow
      assert.isUndefined(reader.pollUnsafe(), "a read ran inside another fiber's transaction")
      yield* finish.open
      yield* Fiber.join(transaction)
      assert.deepStrictEqual(yield* Fiber.join(reader), [[before + 2]])
    }
  })

/**
 * A failed transaction is undone whole, a failed nested one back to its savepoint (the client's cleanup asks
 * the database whether a transaction is open); a transaction holds the connection against other fibers.
 */
const transactions = (client: Client) =>
  Effect.gen(function*() {
    const ids = Effect.map(client<{ id: number }>`SELECT id FROM items WHERE id > 200 ORDER BY id`.values, (rows) => rows.map(([id]) => id))
    assert.isTrue(Exit.isFailure(yield* Effect.exit(client.withTransaction(Effect.andThen(client`INSERT INTO items (id) VALUES (201)`, Effect.fail("boom"))))))
    yield* client.withTransaction(Effect.gen(function*() {
      yield* client`INSERT INTO items (id) VALUES (202)`
      yield* client.withTransaction(client`INSERT INTO items (id) VALUES (203)`)
      yield* Effect.exit(client.withTransaction(Effect.andThen(client`INSERT INTO items (id) VALUES (204)`, Effect.fail("inner"))))
      yield* client.withTransaction(client`INSERT INTO items (id) VALUES (205)`)
    }))
    assert.deepStrictEqual(yield* ids, [202, 203, 205])
    yield* othersWait(client)
  })

describe("NodeSqliteClient, fast: on the calling thread", () => {
  it.effect("a file opens in WAL mode, FULL, a 5 s busy timeout, under both tags, with its spans; closing folds the WAL in", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      const { spans, tracer } = recordingTracer()
      yield* Effect.gen(function*() {
        const context = yield* Layer.build(NodeSqliteClient.layer({ filename, spanAttributes: { "service.name": "ledger" } }))
        const client = Context.get(context, NodeSqliteClient.NodeSqliteClient)
        assert.strictEqual(Context.get(context, SqlClient.SqlClient), client)
        assert.deepStrictEqual(client.config, { filename, spanAttributes: { "service.name": "ledger" } })
        assert.deepStrictEqual(
          [yield* pragma(client, "journal_mode"), yield* pragma(client, "synchronous"), yield* pragma(client, "busy_timeout")],
          ["wal", 2, 5000]
        )
        assert.strictEqual(client.onDialectOrElse({ sqlite: () => "sqlite", orElse: () => "other" }), "sqlite")
        assert.strictEqual(client.driver, "node-sqlite")
        yield* client`SELECT 1 AS one`
        yield* client`CREATE TABLE written (x)`
        yield* client.transact([{ sql: "SELECT 1", params: [] }, { sql: "SELECT 2", params: [] }])
        assert.isTrue(existsSync(`${filename}-wal`), "no write-ahead log while open")
      }).pipe(Effect.scoped, Effect.provideService(Tracer.Tracer, tracer))
      assert.isFalse(existsSync(`${filename}-wal`), "the write-ahead log outlived the client")
      const named = { "db.system.name": "sqlite", "db.namespace": filename, "service.name": "ledger" }
      const statement = spans.find((span) => span.attributes.get("db.query.text") === "SELECT 1 AS one")
      const transactions = spans.filter((span) => span.name === "sql.transaction")
      assert.deepStrictEqual(Object.keys(named).map((key) => statement?.attributes.get(key)), Object.values(named))
      assert.deepStrictEqual(transactions.map((span) => span.kind), ["client"])
      assert.deepStrictEqual(
        [...Object.keys(named), "db.operation.batch.size"].map((key) => transactions[0].attributes.get(key)),
        [...Object.values(named), 2]
      )
    }))

  it.effect("statements bind and read every way; transact commits, answers and fails whole; errors are classified", () =>
    withClient({}, (client) => statementsAndRows(client, "transact")))

  it.effect("settings: NORMAL without WAL, a busy timeout, a cache of 2; read-only; OFF and EXTRA; a level it does not know", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      yield* withClient({ filename, synchronous: "NORMAL", wal: false, busyTimeout: "250 millis", preparedStatementCacheSize: 2 }, (client) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(
            [yield* pragma(client, "journal_mode"), yield* pragma(client, "synchronous"), yield* pragma(client, "busy_timeout")],
            ["delete", 1, 250]
          )
          yield* createItems(client)
          // More distinct statements than the cache holds, each run again after being evicted.
          for (let round = 0; round < 3; round++) {
            for (let id = 1; id <= 4; id++) {
              yield* client`INSERT OR REPLACE INTO items (id, name) VALUES (${id}, ${`r${round}-${id}`})`
              assert.deepStrictEqual(yield* client.unsafe(`SELECT name FROM items WHERE id = ${id}`), [{ name: `r${round}-${id}` }])
            }
          }
        }))
      const [rows, refused, journal] = yield* withClient({ filename, readOnly: true }, (client) =>
        Effect.all([client`SELECT count(*) AS n FROM items`, Effect.flip(client`INSERT INTO items (id, name) VALUES (9, 'b')`), pragma(client, "journal_mode")]))
      assert.deepStrictEqual(rows, [{ n: 4 }])
      assert.match(refused.message, /readonly/)
      assert.strictEqual(journal, "delete")
      for (const [synchronous, level] of [["OFF", 0], ["EXTRA", 3]] as const) {
        assert.deepStrictEqual(yield* withClient({ filename: ":memory:", synchronous }, (client) => Effect.all([pragma(client, "synchronous"), pragma(client, "journal_mode")])), [level, "memory"])
      }
      const unknown = yield* tempDatabaseFile
      const injected = yield* Effect.flip(withClient({ filename: unknown, synchronous: "FULL; CREATE TABLE injected (x)" as NodeSqliteClient.Synchronous }, () => Effect.void))
      assert.strictEqual(injected.message, `synchronous must be one of OFF, NORMAL, FULL, EXTRA, not "FULL; CREATE TABLE injected (x)"`)
      assert.isFalse(existsSync(unknown), "the refused open created the file")
    }))

  it.effect("a file that cannot be opened, or is not a database, fails the layer as opening and is left as it was", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(withClient({ filename: "/no/such/directory/tasks.db" }, () => Effect.void))
      assert.deepStrictEqual(failure(missing), ["open", "ConnectionError"])
      const filename = yield* tempDatabaseFile
      const text = "not a database, but long enough to hold a header's worth of bytes: ".repeat(4)
      writeFileSync(filename, text)
      const notDatabase = yield* Effect.flip(withClient({ filename }, () => Effect.void))
      assert.match(notDatabase.message, /not a database/)
      assert.strictEqual(readFileSync(filename, "utf8"), text)
    }))

  it.effect("transactions roll back whole or to a savepoint, and hold the connection against other fibers", () =>
    withClient({}, (client) =>
      Effect.gen(function*() {
        yield* createItems(client)
        yield* transactions(client)
      })))

  it.effect("transact is refused inside a transaction begun by hand, and after SQLite's own rollback the connection goes on", () =>
    withClient({ filename: ":memory:" }, (client) =>
      Effect.gen(function*() {
        yield* createItems(client)
        yield* client`INSERT INTO items (id, name) VALUES (1, 'a')`
        yield* client`BEGIN`
        yield* client`INSERT INTO items (id, name) VALUES (2, 'b')`
        const refused = yield* Effect.flip(client.transact([{ sql: "INSERT INTO items (id, name) VALUES (3, 'c')", params: [] }]))
        assert.deepStrictEqual([refused.reason.operation, refused.reason.message], ["transact", "transact: a transaction is already open on this connection"])
        yield* client`ROLLBACK`
        // OR ROLLBACK ends the transaction before transact's own rollback would run.
        const violated = yield* Effect.flip(client.transact([
          { sql: "INSERT INTO items (id, name) VALUES (4, 'd')", params: [] },
          { sql: "INSERT OR ROLLBACK INTO items (id, name) VALUES (5, 'a')", params: [] }
        ]))
        assert.deepStrictEqual(failure(violated), ["transact", "UniqueViolation"])
        assert.deepStrictEqual(yield* itemIds(client), [1])
      })))

  it.effect("streams read 128 rows at a time, release their statement when stopped early, and fail as streaming", () =>
    withClient({}, (client) =>
      Effect.gen(function*() {
        yield* createItems(client)
        const rows = Array.from({ length: 300 }, (_, i) => ({ id: i + 1, name: `n${i}` }))
        yield* client`INSERT INTO items ${client.insert([rows[0], ...rows.slice(1)])}`
        const chunks = yield* client<{ id: number }>`SELECT id FROM items ORDER BY id`.stream.pipe(
          Stream.chunks,
          Stream.map((chunk) => chunk.map((row) => row.id)),
          Stream.runCollect
        )
        assert.deepStrictEqual(chunks.map((chunk) => chunk.length), [128, 128, 44])
        assert.deepStrictEqual(chunks.flat(), rows.map((row) => row.id))
        assert.deepStrictEqual(yield* client<{ id: number }>`SELECT id FROM items ORDER BY id`.stream.pipe(Stream.take(1), Stream.runCollect), [{ id: 1 }])
        yield* client`INSERT INTO items (id, name) VALUES (1000, 'later')`
        const [checkpoint] = yield* client<{ busy: number }>`PRAGMA wal_checkpoint(TRUNCATE)`
        assert.strictEqual(checkpoint.busy, 0, "a reader still holds the WAL")
        // Rows up to 149 read, then an integer overflow: the second chunk fails, not the statement.
        const overflowing = client`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200)
          SELECT CASE WHEN x < 150 THEN x ELSE abs(-9223372036854775808) END AS v FROM c`
        const failures = yield* Effect.all([Effect.flip(Stream.runCollect(overflowing.stream)), Effect.flip(Stream.runCollect(client`SELEC 1`.stream))])
        assert.deepStrictEqual(failures.map(failure), [["stream", "UnknownError"], ["stream", "UnknownError"]])
        assert.match(failures[0].message, /integer overflow/)
      })))
})

describe("NodeSqliteClient, fast: on a worker thread", () => {
  it.effect("statements, settings, transact, errors, a parameter it cannot send and a lock held for a moment cross the thread", () =>
    Effect.gen(function*() {
      const filename = yield* tempDatabaseFile
      const handshake = yield* tempDatabaseFile
      yield* withClient({ filename, worker: true, synchronous: "NORMAL", busyTimeout: "30 seconds" }, (client) =>
        Effect.gen(function*() {
          assert.deepStrictEqual(
            [yield* pragma(client, "journal_mode"), yield* pragma(client, "synchronous"), yield* pragma(client, "busy_timeout")],
            ["wal", 1, 30_000]
          )
          yield* statementsAndRows(client, "execute")
          yield* transactions(client)
          // Rows do not stream across the thread: the query is read whole, one chunk.
          const chunks = yield* client<{ id: number }>`SELECT id FROM items ORDER BY id`.stream.pipe(Stream.chunks, Stream.runCollect)
          assert.deepStrictEqual(chunks.map((chunk) => chunk.length), [15])
          for (const unsendable of [() => 1, Symbol("unsendable")]) {
            const error = yield* Effect.flip(client`SELECT ${unsendable as unknown as string} AS x`)
            assert.strictEqual(error.reason.operation, "execute")
            assert.match(error.message, /could not be cloned/)
          }
          // Another connection holds the write lock: the thread waits for it (the busy timeout), then writes. It is
          // released only once the thread is seen waiting, not after a guessed time (which a loaded machine outlasts):
          // the thread's transaction first writes a file of its own (attached), whose lock this thread can see, then
          // the locked one — its lock on that file held means it is in the write that waits.
          yield* client.unsafe(`ATTACH DATABASE '${handshake}' AS handshake`)
          yield* client`CREATE TABLE handshake.marks (n INTEGER)`
          const other = new DatabaseSync(filename)
          other.exec("BEGIN IMMEDIATE; INSERT INTO items (id, name) VALUES (100, 'other')")
          const write = yield* Effect.forkChild(
            client.transact([
              { sql: "INSERT INTO handshake.marks (n) VALUES (1)", params: [] },
              { sql: "INSERT INTO items (id, name) VALUES (101, 'mine')", params: [] }
            ]),
            { startImmediately: true }
          )
          const probe = new DatabaseSync(handshake, { timeout: 0 })
          yield* waitUntil(() => {
            // a thread that did not wait has failed with SQLITE_BUSY and let go of its handshake lock by now
            assert.isUndefined(write.pollUnsafe(), "the write ended without waiting for the lock")
            try {
              probe.exec("BEGIN IMMEDIATE; ROLLBACK")
              return false
            } catch (error) {
              assert.match(String(error), /database is locked/)
              return true
            }
          }, "the thread's transaction never reached the locked write")
          probe.close()
          other.exec("COMMIT")
          other.close()
          yield* Fiber.join(write)
          assert.includeMembers(yield* itemIds(client), [100, 101])
        }))
    }), 60_000)

  it.effect("an open that fails on the thread fails the layer; a close fails the statements waiting and those after it", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(withClient({ filename: "/no/such/directory/tasks.db", worker: true }, () => Effect.void))
      assert.deepStrictEqual(failure(missing), ["open", "ConnectionError"])
      const refused = yield* Effect.flip(withClient({ filename: ":memory:", worker: true, synchronous: "full" as NodeSqliteClient.Synchronous }, () => Effect.void))
      assert.strictEqual(refused.message, `synchronous must be one of OFF, NORMAL, FULL, EXTRA, not "full"`)
      const { client, counted, stopped } = yield* closedWhileWaiting
      assert.deepStrictEqual(counted, [{ n: 2_000_000 }])
      assert.deepStrictEqual(failure(stopped), ["execute", "ConnectionError"])
      assert.match(stopped.message, /worker thread stopped/)
      const after = yield* Effect.flip(client.transact([{ sql: "SELECT 1", params: [] }]))
      assert.deepStrictEqual(failure(after), ["execute", "ConnectionError"])
    }), 60_000)
})
