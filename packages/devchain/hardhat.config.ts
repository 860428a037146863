/** Hardhat configuration of the dev chain that `DevChain` starts: defaults only. */
export default {}
