/**
 * A ready payload for the kinds whose payload Schema carries no example,
 * as `/api/kinds` answers it (`example`, else the Schema's first example)
 * and the dashboard's submit form fills it in: when the service has chains,
 * the chain kinds' on the first chain. The dev chain's part (`DevActivity`) replaces the chain
 * kinds' with what it seeded (its accounts, token and blocks), so each runs
 * as it stands.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import { DevChain } from "@chainjobs/devchain"
import type { ServerSettings } from "./ServerConfig.ts"

/** The example payloads, by kind name. */
export class KindExamples extends Context.Service<KindExamples, {
  /** Every kind's example now. */
  readonly all: Effect.Effect<ReadonlyMap<string, unknown>>
  /** Replaces the examples of the kinds given. */
  set(examples: Readonly<Record<string, unknown>>): Effect.Effect<void>
}>()("@chainjobs/server/KindExamples") {}

/** The ERC-20 `Transfer` event, as `chain/sync-events` takes it. */
export const transferEvent = "event Transfer(address indexed from, address indexed to, uint256 value)"

/**
 * A transfer of 1 wei from dev account 19 to dev account 18 (nonce 0, chain
 * 31337, max fee 100 gwei), signed with the dev mnemonic's key: it is
 * broadcast once; a second broadcast is refused as `NonceTooLow`.
 */
export const devTransfer =
  "0x02f86d827a6980843b9aca0085174876e80082520894dd2fd4581271e230360230f9337d5c0430bf44c00180c001a0f7884a815565db996d4c303e4b6957780b5be1a66782551da574a9b5de56b716a01d5e9d1d79a7c23b05b853d01d1ac22042700fcd0742d4db35aacb8b9304a011"

/** A seeded dev chain, as `DevActivity` tells of it. */
export interface Seeded {
  readonly participants: ReadonlyArray<string>
  readonly token: string
  readonly fromBlock: number
  readonly toBlock: number
}

/** The chain kinds' examples on chain `chain`, over blocks `fromBlock`–`toBlock` and the given accounts and token. */
export const chainExamples = (
  chain: string,
  { fromBlock, participants, toBlock, token }: Seeded
): Record<string, unknown> => ({
  "chain/fetch-blocks": { chain, fromBlock, toBlock: Math.min(toBlock, fromBlock + 9) },
  "chain/scan-addresses": { chain, addresses: participants.slice(0, 2), fromBlock, toBlock },
  "chain/sync-events": { chain, address: token, events: [transferEvent], fromBlock },
  "chain/validate-block": { chain, number: toBlock, receipts: true },
  "chain/process-block": { chain, number: toBlock },
  "chain/follow-head": { chain, pollMillis: 1000 },
  "chain/broadcast": { chain, transaction: devTransfer, confirmations: 1 },
  "chainjobs.watch.record": {
    watcher: "example",
    chain,
    kind: "native",
    block: fromBlock,
    blockHash: `0x${"0".repeat(64)}`,
    transaction: `0x${"1".repeat(64)}`,
    position: null,
    from: participants[0] ?? null,
    to: participants[1] ?? null,
    amount: "1",
    asset: null,
    contract: null,
    event: null,
    args: null
  },
  "chainjobs.balances.refresh-stale": {},
  "chainjobs.balances.reconcile": {}
})

/** The examples before any part tells more: the chain kinds' on the first chain (or `dev`), if any. */
export const defaults = (settings: Pick<ServerSettings, "chains" | "devChain">): Record<string, unknown> => {
  const chain = settings.chains[0]?.name ?? (settings.devChain ? "dev" : undefined)
  return chain === undefined ? {} : chainExamples(chain, {
    participants: DevChain.accounts.slice(0, 2).map((account) => account.address.toLowerCase()),
    token: DevChain.accounts[0]!.address.toLowerCase(),
    fromBlock: 1,
    toBlock: 10
  })
}

/** The examples, starting from `defaults(settings)`. */
export const layer = (settings: Pick<ServerSettings, "chains" | "devChain">): Layer.Layer<KindExamples> =>
  Layer.sync(KindExamples, () => {
    const examples = new Map(Object.entries(defaults(settings)))
    return KindExamples.of({
      all: Effect.sync(() => new Map(examples)),
      set: (given) =>
        Effect.sync(() => {
          for (const [kind, example] of Object.entries(given)) examples.set(kind, example)
        })
    })
  })
