/**
 * Live activity on the dev chain, so that a fresh `npm start` has a chain
 * worth watching: at start, `DevSeed` deploys an ERC-20 token and produces a
 * few hundred blocks of known transfers; then, every second, one ETH transfer
 * and one token transfer among the dev accounts (Hardhat's unlocked accounts
 * sign them).
 *
 * @since 0.1.0
 */
import { Console, Effect, Layer, Schedule, Schema } from "effect"
import { DevChain, DevSeed } from "@chainjobs/devchain"
import * as KindExamples from "./KindExamples.ts"

/** A transaction of the live activity was refused. */
export class DevActivityError extends Schema.TaggedError<DevActivityError>()("DevActivityError", {
  message: Schema.String
}) {}

/** `transfer(address,uint256)` call data. */
export const transferData = (to: string, amount: bigint): string =>
  `0xa9059cbb${to.slice(2).toLowerCase().padStart(64, "0")}${amount.toString(16).padStart(64, "0")}`

const send = (url: string, transaction: Record<string, string>) =>
  Effect.tryPromise({
    try: () =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_sendTransaction", params: [transaction] })
      }).then((response) => response.json() as Promise<{ readonly error?: { readonly message: string } }>),
    catch: (cause) => new DevActivityError({ message: String(cause) })
  }).pipe(Effect.flatMap((reply) =>
    reply.error === undefined ? Effect.void : Effect.fail(new DevActivityError({ message: reply.error.message }))
  ))

/** Seeds the dev chain, makes the chain kinds' examples run on what it seeded, prints one, and keeps transfers flowing every second. */
export const layer: Layer.Layer<never, DevChain.DevChainError, DevChain.DevChain | KindExamples.KindExamples> = Layer.effectDiscard(
  Effect.gen(function*() {
    const chain = yield* DevChain.DevChain
    const seeded = yield* DevSeed.seed({ rounds: 30 })
    yield* KindExamples.KindExamples.use((examples) => examples.set(KindExamples.chainExamples("dev", seeded)))
    const example = { chain: "dev", addresses: seeded.participants.slice(0, 2), fromBlock: seeded.fromBlock, toBlock: seeded.toBlock }
    yield* Console.log(
      [
        `dev chain  ${chain.url}  (Hardhat, chain id ${chain.chainId}; ERC-20 ${seeded.token}, blocks ${seeded.fromBlock}-${seeded.toBlock} seeded)`,
        `  try: chain/scan-addresses ${JSON.stringify(example)}`
      ].join("\n")
    )
    const accounts = seeded.participants
    let round = 0
    const tick = Effect.suspend(() => {
      round++
      const from = accounts[round % accounts.length]
      const to = accounts[(round + 1) % accounts.length]
      return Effect.andThen(
        send(chain.url, { from, to, value: `0x${(BigInt(round) * 10n ** 14n).toString(16)}` }),
        send(chain.url, { from, to: seeded.token, data: transferData(to, BigInt(round)) })
      )
    }).pipe(Effect.catch((error) => Effect.logWarning("chainjobs: dev chain activity", error.message)))
    yield* Effect.forkScoped(Effect.repeat(tick, Schedule.spaced("1 second")))
  })
)
