/**
 * Coin types as a watch names them (`normalizeAsset`: canonical, SUI as
 * `native`, anything else refused with why), an owner's balances as the
 * adapter reports them (SUI first, then every other coin type), and the
 * layer's refusal of a network it does not serve.
 */
import { ChainAdapter } from "@chainjobs/watch"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as SuiAdapter from "../src/SuiAdapter.ts"
import * as SuiStandIn from "./SuiStandIn.ts"

/** `0x` and 64 hex digits of a short address. */
const long = (hex: string) => `0x${hex.padStart(64, "0")}`
const usdcPackage = "168da5bf1f48dafc111b0a488fa454aca95e0b5e"
const refusal = (asset: string) => ({ ok: false as const, detail: `"${asset}" is not a Sui coin type (0xpackage::module::Struct)` })

describe("normalizeAsset", () => {
  it("SUI is native however its package is spelled: 0x2, 2, or 0x and 64 digits", () => {
    for (const sui of ["0x2::sui::SUI", "2::sui::SUI", `${long("2")}::sui::SUI`]) {
      assert.deepStrictEqual(SuiAdapter.normalizeAsset(sui), { ok: true, asset: "native" }, sui)
    }
  })

  it("another coin type reads canonical: its package as 0x and 64 lowercase digits, its module and struct names kept, its type parameters canonical too", () => {
    assert.deepStrictEqual(SuiAdapter.normalizeAsset(`0x${usdcPackage}::usdc::USDC`), { ok: true, asset: `${long(usdcPackage)}::usdc::USDC` })
    assert.deepStrictEqual(SuiAdapter.normalizeAsset("0xABC::my_coin::MY_COIN2"), { ok: true, asset: `${long("abc")}::my_coin::MY_COIN2` })
    assert.deepStrictEqual(SuiAdapter.normalizeAsset("0x2::coin::Coin<0x2::sui::SUI>"), { ok: true, asset: `${long("2")}::coin::Coin<${long("2")}::sui::SUI>` })
  })

  it("anything that is not 0xpackage::module::Struct is refused with an explanation naming it", () => {
    for (
      const bad of [
        "",
        "native",
        "0x2::sui",
        "0x2::sui::SUI::extra",
        // text before or after a coin type
        "zz2::sui::SUI",
        "0x2::sui::SUI extra",
        "0xg::sui::SUI",
        `0x${"1".repeat(65)}::sui::SUI`,
        "0x2::1sui::SUI",
        "0x2::sui::1SUI",
        "0x2::su-i::SUI",
        "0x2::coin::Coin<>",
        // type parameters that do not parse as a struct tag
        "0x2::coin::Coin<0x2::sui>"
      ]
    ) {
      assert.deepStrictEqual(SuiAdapter.normalizeAsset(bad), refusal(bad), bad)
    }
  })
})

describe("an owner's balances through the adapter", () => {
  it.live("SUI comes first as native, then every other coin type canonical, in coin-type order (a type sorting before SUI's included)", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const alice = long("a1")
      node.setBalance(alice, `0x${usdcPackage}::usdc::USDC`, 7n)
      node.setBalance(alice, "0x2::sui::SUI", 9n)
      // a package at 0x1 sorts before SUI's 0x2
      node.setBalance(alice, "0x1::early::EARLY", 3n)
      const adapter = SuiAdapter.make(yield* SuiStandIn.client(node.url))
      assert.deepStrictEqual(yield* adapter.balances!(alice), [
        { asset: "native", amount: 9n },
        { asset: `${long("1")}::early::EARLY`, amount: 3n },
        { asset: `${long(usdcPackage)}::usdc::USDC`, amount: 7n }
      ])
      // an owner holding no SUI: its coins alone
      node.setBalance(long("b0b"), `0x${usdcPackage}::usdc::USDC`, 1n)
      assert.deepStrictEqual(yield* adapter.balances!(long("b0b")), [{ asset: `${long(usdcPackage)}::usdc::USDC`, amount: 1n }])
    }).pipe(Effect.scoped))
})

describe("the layer", () => {
  it.live("a network it does not serve is refused as ChainFailed, naming it and saying why", () =>
    Effect.gen(function*() {
      const node = yield* SuiStandIn.make()
      const adapters = yield* Effect.provide(Effect.service(ChainAdapter.ChainAdapters), SuiAdapter.layerMemory([SuiStandIn.network([node.url], "sui-test")]))
      const error = yield* Effect.flip(adapters.adapter("mainnet"))
      assert.deepInclude(error.reason, { _tag: "ChainFailed", chain: "mainnet", detail: "not a configured Sui network" })
    }).pipe(Effect.scoped))
})
