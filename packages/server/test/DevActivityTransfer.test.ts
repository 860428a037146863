/**
 * `DevActivity.transferData`, the ERC-20 `transfer(address,uint256)` call data of the dev chain's token
 * transfers, as plain values (`DevActivity.test` sends them to a Hardhat node, which takes any well-formed data):
 * the selector, then the receiver and the amount each as 32 bytes of lowercase hex, left-padded with zeros.
 */
import { assert, describe, it } from "@effect/vitest"
import * as DevActivity from "../src/DevActivity.ts"

describe("DevActivity's transfer call data", () => {
  it("is the transfer selector, the receiver without 0x in lowercase and the amount in hex, each padded to 64 digits", () => {
    const to = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    assert.strictEqual(
      DevActivity.transferData(to, 255n),
      `0xa9059cbb${"0".repeat(24)}70997970c51812dc3a010c7d01b50e0d17dc79c8${"0".repeat(62)}ff`
    )
    assert.strictEqual(DevActivity.transferData(to, 0n).length, 2 + 8 + 64 + 64)
    assert.isTrue(DevActivity.transferData(to, 2n ** 255n).endsWith(`8${"0".repeat(63)}`))
  })
})
