/**
 * Which chain an EVM endpoint answers for: its `eth_chainId`, asked before
 * the endpoint's first call and again when it comes back into use after its
 * circuit opened (a provider can switch networks while it is down). An
 * endpoint of another chain fails with `WrongChain` and is kept out of use;
 * an answer that is not a hex quantity (null, a number, `0x`, non-hex digits,
 * more than 64 digits, an error answer) is a provider failure, never a match.
 * Leading zeros and digits of either case are read as the same id.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { ChainConfig } from "./ChainConfig.ts"
import { ChainRequestError, InvalidResponse, WrongChain } from "./ChainRequestError.ts"
import type * as EndpointPool from "./EndpointPool.ts"
import { head } from "./internal/jsonRpc.ts"

/** The most characters of a wrong answer that its error quotes (cut at a character's boundary, then `…`). */
const maxQuoted = 80

/** An answer as JSON, `nothing` for none, or what it is when it is too deeply nested to write as JSON (the stack would overflow). */
const quoted = (answer: unknown): string => {
  try {
    return JSON.stringify(answer) ?? "nothing"
  } catch {
    return Array.isArray(answer) ? "a list nested too deep to quote" : "an object nested too deep to quote"
  }
}

/** A chain id as a JSON-RPC quantity: `0x` and 1 to 64 hex digits (a uint256). */
const quantity = /^0[xX][0-9a-fA-F]{1,64}$/

/** The chain id an `eth_chainId` answer carries, or undefined when the answer is not a hex quantity. */
export const parse = (answer: unknown): bigint | undefined =>
  typeof answer === "string" && quantity.test(answer) ? BigInt(answer) : undefined

/** The identity check of the endpoints of `config`'s chain: `eth_chainId` must answer `config.chainId`. */
export const identity = (config: Pick<ChainConfig, "name" | "chainId" | "breaker">): EndpointPool.Identity => ({
  call: { method: "eth_chainId", params: [] },
  holdFor: config.breaker.openDuration,
  check: (endpoint, answer) => {
    const reported = parse(answer)
    if (reported === undefined) {
      const shown = quoted(answer)
      return Effect.fail(
        new ChainRequestError({
          reason: new InvalidResponse({
            endpoint,
            detail: `eth_chainId answered ${shown.length > maxQuoted ? `${head(shown, maxQuoted)}…` : shown}, not a chain id`
          })
        })
      )
    }
    return reported === BigInt(config.chainId) ? Effect.void : Effect.fail(
      new ChainRequestError({
        reason: new WrongChain({ chain: config.name, endpoint, expected: config.chainId, reported: reported.toString() })
      })
    )
  }
})
