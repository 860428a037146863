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

describe("normalizeAsset's type parameters", () => {
  it("each parameter must be a Move type — a primitive, vector<T> or a struct with parameters of its own — and is canonical in the coin type", () => {
    for (const primitive of ["bool", "u8", "u16", "u32", "u64", "u128", "u256", "address", "signer"]) {
      assert.deepStrictEqual(SuiAdapter.normalizeAsset(`0x2::coin::Coin<${primitive}>`), { ok: true, asset: `${long("2")}::coin::Coin<${primitive}>` }, primitive)
    }
    for (
      const [asset, canonical] of [
        ["0x2::lp::LP<0x2::sui::SUI, vector<u8>>", `${long("2")}::lp::LP<${long("2")}::sui::SUI,vector<u8>>`],
        ["0x2::lp::LP<0x2::sui::SUI,u8,u16>", `${long("2")}::lp::LP<${long("2")}::sui::SUI,u8,u16>`],
        ["0x2::lp::LP< 0x2::sui::SUI ,  u8 >", `${long("2")}::lp::LP<${long("2")}::sui::SUI,u8>`],
        ["0x2::coin::Coin<vector<0x2::sui::SUI>>", `${long("2")}::coin::Coin<vector<${long("2")}::sui::SUI>>`],
        ["0x2::a::B<0x3::c::D<u8, vector<vector<bool>>>, 0x2::sui::SUI>", `${long("2")}::a::B<${long("3")}::c::D<u8,vector<vector<bool>>>,${long("2")}::sui::SUI>`]
      ]
    ) {
      assert.deepStrictEqual(SuiAdapter.normalizeAsset(asset!), { ok: true, asset: canonical }, asset)
    }
  })

  it("a parameter that is not a Move type, a list that does not close or parse, or a coin type that is no struct is refused, naming it", () => {
    for (
      const bad of [
        "0x2::coin::Coin<not a type>",
        "0x2::coin::Coin<U8>",
        "0x2::coin::Coin<u8 u8>",
        "0x2::coin::Coin<0xg::a::B>",
        "0x2::coin::Coin<x::y::z>",
        // a vector takes one type, a primitive none
        "0x2::coin::Coin<vector>",
        "0x2::coin::Coin<vector<u8, u8>>",
        "0x2::coin::Coin<u8<u8>>",
        // lists not closed, empty entries, or more than one
        "0x2::a::B<0x3::c::D<u8, u16>",
        "0x2::coin::Coin<u8,>",
        "0x2::coin::Coin<,u8>",
        "0x2::coin::Coin<<u8>>",
        "0x2::coin::Coin<u8>>",
        "0x2::coin::Coin<u8><u8>",
        // a list closed early, then a type where its end was due
        "0x2::a::A<0x2::a::B<0x2::a::C<u8>u8>",
        // a coin type is a struct
        "u64",
        "vector<u8>"
      ]
    ) {
      assert.deepStrictEqual(SuiAdapter.normalizeAsset(bad), refusal(bad), bad)
    }
  })

  it(`a coin type is read up to ${SuiAdapter.longestAsset} characters (its parameters nested hundreds deep within them); a longer one is refused without reading it`, () => {
    const longest = `0x2::m::${"S".repeat(SuiAdapter.longestAsset - 8)}`
    assert.deepStrictEqual(SuiAdapter.normalizeAsset(longest), { ok: true, asset: `${long("2")}${longest.slice(3)}` })
    assert.deepStrictEqual(SuiAdapter.normalizeAsset(`${longest}S`), refusal(`${longest}S`))
    const nested = (depth: number) => `0x2::a::B<${"vector<".repeat(depth)}u8${">".repeat(depth)}>`
    assert.isAtMost(nested(500).length, SuiAdapter.longestAsset)
    assert.deepStrictEqual(SuiAdapter.normalizeAsset(nested(500)), { ok: true, asset: `${long("2")}${nested(500).slice(3)}` })
    // 100,000 levels: the SDK's own reading of it exhausts the heap
    assert.deepStrictEqual(SuiAdapter.normalizeAsset(nested(100_000)), refusal(nested(100_000)))
  })
})
