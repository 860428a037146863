/**
 * What the JSON-RPC errors of real providers and nodes mean, from a table of
 * the codes and messages they send: a spent request budget (`RateLimited`:
 * pause the endpoint and retry), an `eth_getLogs` range or result too large
 * (`RangeTooLarge`: shrink the range), a block the answering node does not
 * have yet (`MissingBlock`: a node behind a load balancer lags; retry, on
 * another endpoint if there is one), or anything else (`Final`: the request
 * itself is at fault and a retry would get the same answer).
 *
 * Messages are matched before codes, because codes are shared: Infura's
 * -32005 means a spent budget or a result too large, and several providers
 * answer -32602 or -32600 for a range too large as for a bad parameter.
 *
 * @since 0.1.0
 */

/** What a provider's JSON-RPC error means for the request. */
export type ProviderErrorKind = "RateLimited" | "RangeTooLarge" | "MissingBlock" | "Final"

/** One row of the table: a message pattern (and, for a code alone, no pattern) and its meaning. */
export interface KnownError {
  readonly kind: Exclude<ProviderErrorKind, "Final">
  /** Matched against the error's message, case-insensitively. */
  readonly message?: RegExp | undefined
  /** Matched against the error's code when `message` is absent. */
  readonly code?: number | undefined
  /** Who sends it, as an example. */
  readonly seenFrom: string
}

/** The table, in the order it is matched: messages first, then codes that mean one thing whatever the message. */
export const known: ReadonlyArray<KnownError> = [
  // a block the node does not have (yet): it lags behind the head another node of the provider reported
  {
    kind: "MissingBlock",
    message: /header not found|unknown block|block not found|block .* not found|beyond (the )?current head/i,
    seenFrom: "geth, Infura, erigon, besu, nethermind"
  },
  // an eth_getLogs range or result too large
  { kind: "RangeTooLarge", message: /returned more than \d[\d,]* results/i, seenFrom: "Infura, geth-based nodes, zkSync" },
  { kind: "RangeTooLarge", message: /log response size exceeded/i, seenFrom: "Alchemy" },
  { kind: "RangeTooLarge", message: /block range/i, seenFrom: "Alchemy, Moonbeam, Scroll, Morph, Ankr, public nodes" },
  { kind: "RangeTooLarge", message: /range \d+ (exceeds|is bigger than) (the )?(range )?limit/i, seenFrom: "Infura, Tenderly" },
  { kind: "RangeTooLarge", message: /limited to (a )?[\d,]+ (blocks? )?range/i, seenFrom: "QuickNode, 1RPC" },
  { kind: "RangeTooLarge", message: /range (is )?too (large|wide|big)|too many (blocks|logs)/i, seenFrom: "erigon, nethermind, besu" },
  { kind: "RangeTooLarge", message: /response (is )?too (big|large)|response size (exceeded|should not)/i, seenFrom: "zkSync, Ankr" },
  { kind: "RangeTooLarge", message: /query timeout exceeded/i, seenFrom: "Infura" },
  // a spent request budget
  { kind: "RateLimited", message: /rate.?limit/i, seenFrom: "Infura, Tenderly, Base, public nodes" },
  { kind: "RateLimited", message: /request rate|daily request|request count/i, seenFrom: "Infura" },
  { kind: "RateLimited", message: /too many requests/i, seenFrom: "Cloudflare, public nodes" },
  { kind: "RateLimited", message: /compute units|capacity limit|exceeded (its |your |the )?(capacity|quota|throughput)/i, seenFrom: "Alchemy, POKT" },
  { kind: "RateLimited", message: /credits limited|credit limit/i, seenFrom: "QuickNode" },
  { kind: "RateLimited", message: /^limit exceeded$/i, seenFrom: "EIP-1474 -32005 as sent by public nodes" },
  // codes that mean a spent budget whatever the message says
  { kind: "RateLimited", code: 429, seenFrom: "Alchemy (code 429 in a JSON-RPC error)" },
  { kind: "RateLimited", code: -32029, seenFrom: "public nodes" },
  { kind: "RateLimited", code: -32016, seenFrom: "Base public node" },
  { kind: "RateLimited", code: -32012, seenFrom: "QuickNode" },
  { kind: "RateLimited", code: -32005, seenFrom: "EIP-1474 \"limit exceeded\"" }
]

/** What a JSON-RPC error with this code and message means. */
export const classify = (code: number, message: string): ProviderErrorKind => {
  for (const row of known) {
    if (row.message !== undefined ? row.message.test(message) : row.code === code) return row.kind
  }
  return "Final"
}
