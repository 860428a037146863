import { assert, describe, it } from "@effect/vitest"
import { vi } from "vitest"

// The real derivations, counted: importing the module must not run them.
vi.mock("viem/accounts", async (importOriginal) => {
  const original = await importOriginal<typeof import("viem/accounts")>()
  return { ...original, hdKeyToAccount: vi.fn(original.hdKeyToAccount), mnemonicToAccount: vi.fn(original.mnemonicToAccount) }
})

const { hdKeyToAccount, mnemonicToAccount } = await import("viem/accounts")
const derivations = () => vi.mocked(hdKeyToAccount).mock.calls.length + vi.mocked(mnemonicToAccount).mock.calls.length
const DevChain = await import("../src/DevChain.ts")
// Counted here: call counts are cleared before each test.
const derivedAtImport = derivations()

describe("DevChain.accounts", () => {
  it("derives no account at import, and each one once, when first read", () => {
    assert.strictEqual(derivedAtImport, 0)
    assert.strictEqual(DevChain.accounts.length, 20)
    assert.strictEqual(derivations(), 0)
    const third = DevChain.accounts[3]!
    assert.strictEqual(derivations(), 1)
    assert.strictEqual(DevChain.accounts[3], third)
    assert.strictEqual(derivations(), 1)
  })

  it("are Hardhat's accounts, readable as any array", () => {
    assert.deepStrictEqual(DevChain.accounts[0], {
      address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
      privateKey: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
    })
    assert.strictEqual(DevChain.accounts.at(-1)!.address, "0x8626f6940E2eb28930eFb4CeF49B2d1F2C9C1199")
    assert.deepStrictEqual(DevChain.accounts.slice(1, 3).map((account) => account.address), [
      "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
      "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
    ])
    assert.strictEqual(new Set([...DevChain.accounts].map((account) => account.privateKey)).size, 20)
    assert.isTrue(Object.isFrozen(DevChain.accounts))
  })
})
