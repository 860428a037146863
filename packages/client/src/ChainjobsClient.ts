/**
 * A client of the chainjobs REST API for programs that do not use Effect: a
 * web backend, a script, a browser page. Plain `fetch` and promises; no
 * dependency, so the file runs as it is in Node (≥ 22.18) and, with its
 * types stripped, in a browser.
 *
 * Typed by a map of the kinds it submits (`KindMap`): each kind's payload
 * and result, written by hand, generated from the OpenAPI document, or
 * derived from the kinds' Schemas (`KindTypes`).
 *
 * Every refusal of the service is thrown as a `ChainjobsError` carrying the
 * HTTP status and the body's `_tag` (`UnknownTaskKind`, `InvalidPayload`,
 * `TaskNotFound`, `TaskFailed`, `WebhookRefused`, ...); `wait` gives up with
 * `WaitTimeout` after its timeout (10 minutes by default).
 *
 * @since 0.1.0
 */

/** The payload and the result of each kind a client submits, by kind name. */
export type KindMap = Record<string, { readonly payload: unknown; readonly result: unknown }>

/** Where a task stands. */
export type TaskStatus = "pending" | "running" | "completed" | "failed" | "interrupted"

/** A task's record as the service answers it (`GET /api/tasks/{id}`). */
export interface TaskRecord<Result = unknown> {
  readonly id: string
  readonly kind: string
  readonly status: TaskStatus
  /** 0 to 100. */
  readonly progress: number
  readonly message: string | null
  readonly payload: unknown
  /** The success value, once `completed`. */
  readonly result: Result | null
  /** Why it failed (`error`, `defect`, `timeout`, `heartbeat`, `lost`), once `failed`. */
  readonly reason: string | null
  /** The kind's typed error, encoded, when `reason` is `error`. */
  readonly error: unknown
  readonly errorMessage: string | null
  readonly attempt: number
  readonly owner: string | null
  readonly createdAt: number
  readonly startedAt: number | null
  readonly finishedAt: number | null
  readonly createdAtIso: string
  readonly startedAtIso: string | null
  readonly finishedAtIso: string | null
  readonly [field: string]: unknown
}

/** The answer to a submission: the task's id and where to follow it. */
export interface Submitted {
  readonly taskId: string
  readonly kind: string
  readonly status: TaskStatus
  readonly statusUrl: string
  readonly resultUrl: string
  readonly eventsUrl: string
}

/** A task's result while it runs, or once it completed. */
export type ResultState<Result> =
  | { readonly status: "completed"; readonly taskId: string; readonly result: Result; readonly completedAt: number }
  | { readonly status: "pending" | "running"; readonly taskId: string; readonly progress: number; readonly message: string | null }

/** One page of a listing. */
export interface TaskList {
  readonly items: ReadonlyArray<TaskRecord>
  readonly page: number
  readonly limit: number
  readonly nextCursor: string | null
}

/** One webhook of a task: its delivery state and attempts. */
export interface WebhookDelivery {
  readonly id: string
  readonly taskId: string
  readonly url: string
  readonly state: "waiting" | "due" | "delivered" | "failed"
  readonly nextAttemptAt: number | null
  readonly deliveredAt: number | null
  readonly createdAt: number
  readonly attempts: ReadonlyArray<{
    readonly attempt: number
    readonly at: number
    readonly status: number | null
    readonly error: string | null
    readonly durationMillis: number
  }>
}

/** Options of a submission. */
export interface SubmitOptions {
  readonly priority?: number
  /** The time limit of one attempt, in milliseconds, over the kind's. */
  readonly timeoutMillis?: number
  /** The heartbeat timeout, in milliseconds, over the kind's. */
  readonly heartbeatTimeoutMillis?: number
  /** A URL the final record is POSTed to, signed, once the task finishes (the service must have a webhook secret). */
  readonly webhook?: string
}

/** Options of `wait`. */
export interface WaitOptions<Result> {
  /** How long to poll before giving up with `WaitTimeout`. Default: 600 000 (10 minutes). */
  readonly timeoutMillis?: number
  /** Time between two polls. Default: 2 000. */
  readonly intervalMillis?: number
  /** Called with each record polled. */
  readonly onProgress?: (record: TaskRecord<Result>) => void
  /** Stops waiting (rejects with the signal's reason). */
  readonly signal?: AbortSignal
}

/** How to reach the service. */
export interface ClientOptions {
  /** The service's base URL, e.g. `http://127.0.0.1:8080`; `""` on a page the service (or its proxy) serves. */
  readonly baseUrl: string
  /** A bearer token, when the service has auth on. */
  readonly token?: string
  /** The `fetch` to use. Default: the global one. */
  readonly fetch?: typeof fetch
}

/** The default polling limit of `wait`: 10 minutes. */
export const defaultWaitMillis = 600_000
/** The default time between polls of `wait`: 2 seconds. */
export const defaultIntervalMillis = 2_000

/** The service refused a request, or could not be reached (`status` 0). `tag` is the body's `_tag`. */
export class ChainjobsError extends Error {
  override readonly name = "ChainjobsError"
  readonly status: number
  readonly tag: string
  readonly body: unknown
  constructor(status: number, tag: string, message: string, body: unknown) {
    super(message)
    this.status = status
    this.tag = tag
    this.body = body
  }
}

/** `wait` polled for its whole timeout and the task had not finished; `record` is the last one read. */
export class WaitTimeout extends Error {
  override readonly name = "WaitTimeout"
  readonly taskId: string
  readonly timeoutMillis: number
  readonly record: TaskRecord
  constructor(taskId: string, timeoutMillis: number, record: TaskRecord) {
    super(`task ${taskId} had not finished after ${timeoutMillis} ms (it is ${record.status}, ${Math.round(record.progress)}%)`)
    this.taskId = taskId
    this.timeoutMillis = timeoutMillis
    this.record = record
  }
}

const isTerminal = (status: TaskStatus): boolean => status === "completed" || status === "failed" || status === "interrupted"

/** Waits `millis`, or rejects when `signal` aborts. */
const sleep = (millis: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason)
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", abort)
      resolve()
    }, millis)
    const abort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    signal?.addEventListener("abort", abort, { once: true })
  })

/** The REST API of a chainjobs service. */
export class ChainjobsClient<Kinds extends KindMap = KindMap> {
  readonly #base: string
  readonly #token: string | undefined
  readonly #fetch: typeof fetch

  constructor(options: ClientOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, "")
    this.#token = options.token
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  }

  /** Sends a request; the response when its status is one of `accepted`, else a `ChainjobsError`. */
  async #send(method: string, path: string, options: { body?: unknown; signal?: AbortSignal; accept?: ReadonlyArray<number> } = {}) {
    const headers: Record<string, string> = {}
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`
    if (options.body !== undefined) headers["content-type"] = "application/json"
    let response: Response
    try {
      response = await this.#fetch(this.#base + path, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        ...(options.signal === undefined ? {} : { signal: options.signal })
      })
    } catch (cause) {
      if (options.signal?.aborted) throw options.signal.reason
      throw new ChainjobsError(0, "Unreachable", `${method} ${path}: ${String((cause as Error)?.message ?? cause)}`, undefined)
    }
    if ((options.accept ?? [200]).includes(response.status)) return response
    const text = await response.text()
    let body: any = text
    try {
      body = JSON.parse(text)
    } catch {
      // not JSON: kept as text
    }
    const tag = typeof body?._tag === "string" ? body._tag : `HTTP${response.status}`
    const message = typeof body?.message === "string" ? body.message : `${method} ${path} answered ${response.status}`
    throw new ChainjobsError(response.status, tag, message, body)
  }

  async #json<A>(method: string, path: string, options: { body?: unknown; signal?: AbortSignal; accept?: ReadonlyArray<number> } = {}): Promise<A> {
    return (await (await this.#send(method, path, options)).json()) as A
  }

  /** Submits a task of `kind`; answers at once with its id (the task runs in the service). */
  submit<Kind extends keyof Kinds & string>(kind: Kind, payload: Kinds[Kind]["payload"], options: SubmitOptions = {}): Promise<Submitted> {
    const query = new URLSearchParams()
    for (const [name, value] of Object.entries(options)) if (value !== undefined) query.set(name, String(value))
    const search = query.size === 0 ? "" : `?${query}`
    return this.#json("POST", `/api/tasks/${encodeURIComponent(kind)}${search}`, { body: payload, accept: [202] })
  }

  /** A task's record now. */
  status<Result = unknown>(id: string): Promise<TaskRecord<Result>> {
    return this.#json("GET", `/api/tasks/${encodeURIComponent(id)}`)
  }

  /** A task's result once completed, or its progress while it runs; a `ChainjobsError` `TaskFailed` if it failed or was interrupted. */
  result<Result = unknown>(id: string): Promise<ResultState<Result>> {
    return this.#json("GET", `/api/tasks/${encodeURIComponent(id)}/result`, { accept: [200, 202] })
  }

  /**
   * Polls a task's record until it has finished, and returns its final record
   * (whatever the outcome: check `status`). Gives up with `WaitTimeout` after
   * `timeoutMillis` (10 minutes by default).
   */
  async wait<Result = unknown>(id: string, options: WaitOptions<Result> = {}): Promise<TaskRecord<Result>> {
    const timeoutMillis = options.timeoutMillis ?? defaultWaitMillis
    const intervalMillis = options.intervalMillis ?? defaultIntervalMillis
    const deadline = Date.now() + timeoutMillis
    for (;;) {
      const record = await this.#json<TaskRecord<Result>>("GET", `/api/tasks/${encodeURIComponent(id)}`, {
        ...(options.signal === undefined ? {} : { signal: options.signal })
      })
      options.onProgress?.(record)
      if (isTerminal(record.status)) return record
      const left = deadline - Date.now()
      if (left <= 0) throw new WaitTimeout(id, timeoutMillis, record)
      await sleep(Math.min(intervalMillis, left), options.signal)
    }
  }

  /**
   * A task's records as the service streams them (server-sent events): the
   * current one, then one at each change (progress included), ending after
   * the terminal one. Stop early with `break` or the signal.
   */
  async *events<Result = unknown>(id: string, options: { readonly signal?: AbortSignal } = {}): AsyncGenerator<TaskRecord<Result>> {
    const controller = new AbortController()
    const abort = () => controller.abort(options.signal?.reason)
    options.signal?.addEventListener("abort", abort, { once: true })
    try {
      const response = await this.#send("GET", `/api/tasks/${encodeURIComponent(id)}/events`, { signal: controller.signal, accept: [200, 204] })
      if (response.status === 204 || response.body === null) return
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ""
      // whether the text read so far ends in a CR: a LF opening the next chunk is that CRLF's second half, not a line of its own
      let afterCr = false
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return
        buffer += (afterCr && value.startsWith("\n") ? value.slice(1) : value).replace(/\r\n?/g, "\n")
        afterCr = value.endsWith("\r")
        let end: number
        while ((end = buffer.indexOf("\n\n")) !== -1) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = frame.split("\n").filter((line) => line.startsWith("data:")).map((line) => line.slice(5).replace(/^ /, ""))
          if (data.length > 0) yield JSON.parse(data.join("\n")) as TaskRecord<Result>
        }
      }
    } finally {
      options.signal?.removeEventListener("abort", abort)
      controller.abort()
    }
  }

  /** Interrupts a task, waits until it has stopped, and returns its final record. */
  interrupt(id: string): Promise<TaskRecord> {
    return this.#json("POST", `/api/tasks/${encodeURIComponent(id)}/interrupt`)
  }

  /** Lists tasks, newest first: the caller's own (an admin's: all). */
  list(query: { readonly status?: TaskStatus; readonly kind?: string; readonly page?: number; readonly limit?: number; readonly cursor?: string } = {}): Promise<TaskList> {
    const search = new URLSearchParams()
    for (const [name, value] of Object.entries(query)) if (value !== undefined) search.set(name, String(value))
    return this.#json("GET", `/api/tasks${search.size === 0 ? "" : `?${search}`}`)
  }

  /** Deletes a task's record, interrupting it first if it has not finished. */
  async delete(id: string): Promise<void> {
    await this.#send("DELETE", `/api/tasks/${encodeURIComponent(id)}`, { accept: [204] })
  }

  /** A task's webhooks, with their delivery state and attempts. */
  webhooks(id: string): Promise<ReadonlyArray<WebhookDelivery>> {
    return this.#json("GET", `/api/tasks/${encodeURIComponent(id)}/webhooks`)
  }

  /** The kinds the service runs, with the JSON Schema of their payloads. */
  kinds(): Promise<ReadonlyArray<{ readonly name: string; readonly payloadSchema: unknown }>> {
    return this.#json("GET", "/api/kinds")
  }
}
