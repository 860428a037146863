/**
 * A raw WebSocket client of a test server's `/ws` (`localServer.ts`), as a
 * hostile or hand-written client speaks: lines sent as they are, every
 * answer line kept, each stream chunk acknowledged.
 */
import { assert } from "@effect/vitest"
import { Effect } from "effect"

/** A raw WebSocket of `token`'s principal on `/ws`: what it sent and received, line by line. */
export interface Client {
  /** Sends `tag` with `payload` (`null` if none) as request `id`. */
  readonly call: (id: string, tag: string, payload?: unknown) => void
  /** Sends `message` as one line, as it is. */
  readonly send: (message: unknown) => void
  /** Interrupts request `id`. */
  readonly interrupt: (id: string) => void
  /** The answer lines received so far. */
  readonly answers: Array<any>
  /** The first answer `match` accepts, waiting for it (at most 3 seconds). */
  readonly answer: (match: (line: any) => boolean) => Promise<any>
  /** Closes the socket without ending its calls: the client just goes. */
  readonly vanish: () => void
}

export const open = (port: number, token: string) =>
  Effect.promise(() =>
    new Promise<Client>((resolve, reject) => {
      const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`)
      const answers: Array<any> = []
      const waiting = new Set<() => void>()
      const send = (message: unknown) => socket.send(`${JSON.stringify(message)}\n`)
      socket.onerror = () => reject(new Error("the socket failed"))
      // A close shows among the answers, so that a test waiting for one names it.
      socket.onclose = (event) => answers.push({ _tag: "Closed", code: event.code, reason: event.reason })
      socket.onmessage = (event) => {
        for (const line of String(event.data).split("\n")) {
          if (line === "") continue
          const answer = JSON.parse(line)
          answers.push(answer)
          // Read: the server may send the stream's next chunk.
          if (answer._tag === "Chunk") send({ _tag: "Ack", requestId: answer.requestId })
        }
        for (const wake of waiting) wake()
      }
      socket.onopen = () =>
        resolve({
          answers,
          send,
          // A call of an RPC without a payload (`WatchAll`) sends `null`, as effect's client does.
          call: (id, tag, payload = null) =>
            send({ _tag: "Request", id, tag, payload, headers: [["authorization", `Bearer ${token}`]] }),
          interrupt: (id) => send({ _tag: "Interrupt", requestId: id }),
          answer: (match) =>
            new Promise((found, timedOut) => {
              const look = () => {
                const line = answers.find(match)
                if (line === undefined) return false
                waiting.delete(wake)
                clearTimeout(timer)
                found(line)
                return true
              }
              const wake = () => void look()
              const timer = setTimeout(() => {
                waiting.delete(wake)
                timedOut(new Error(`no matching answer in ${JSON.stringify(answers)}`))
              }, 3_000)
              if (!look()) waiting.add(wake)
            }),
          vanish: () => socket.close()
        })
    })
  )

/** The answer ending request `id`. */
export const exitOf = (id: string) => (line: any) => line._tag === "Exit" && line.requestId === id
/** The first chunk of request `id`: its stream is open. */
export const chunkOf = (id: string) => (line: any) => line._tag === "Chunk" && line.requestId === id

/** The typed error an `Exit` line failed with. */
export const errorOf = (exit: any) => {
  assert.strictEqual(exit.exit._tag, "Failure", JSON.stringify(exit))
  const failure = exit.exit.cause.find((reason: any) => reason._tag === "Fail")
  assert.isDefined(failure, JSON.stringify(exit))
  return failure.error
}

/** Whether all-tasks stream `id` of `client` is open: a task submitted now reaches it as a chunk, or it ended first. */
export const flows = (client: Client, id: string, submission: string) =>
  Effect.promise(async () => {
    client.call(submission, "Submit", { kind: "add", payload: { a: 1, b: 2 } })
    const answered = await Promise.race([client.answer(chunkOf(id)), client.answer(exitOf(id))])
    return answered._tag === "Chunk"
  })
