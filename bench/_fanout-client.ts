/**
 * The receiving end of `bench/fanout.ts`'s socket rounds, in a process of
 * its own so its reading does not count against the sender: opens
 * `argv[3]` WebSocket connections to `argv[2]` and counts the ndjson lines
 * and the messages they bring. Told a total of lines to wait for
 * (`{ lines }`, counted from the start), it answers `{ lines, messages }`
 * once they have all arrived.
 */
const [url, count] = [process.argv[2], Number(process.argv[3])]
let lines = 0
let messages = 0
let waitingFor = Number.POSITIVE_INFINITY

const answer = () => {
  if (lines < waitingFor) return
  waitingFor = Number.POSITIVE_INFINITY
  process.send!({ lines, messages })
}

const open = () =>
  new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(url)
    socket.onopen = () => resolve(socket)
    socket.onerror = () => reject(new Error(`could not connect to ${url}`))
    socket.onmessage = (event) => {
      messages++
      const text = String(event.data)
      for (let at = text.indexOf("\n"); at !== -1; at = text.indexOf("\n", at + 1)) lines++
      answer()
    }
  })

const sockets = await Promise.all(Array.from({ length: count }, open))
process.on("message", (message: { readonly lines: number }) => {
  waitingFor = message.lines
  answer()
})
process.on("disconnect", () => {
  for (const socket of sockets) socket.close()
  process.exit(0)
})
process.send!("ready")
