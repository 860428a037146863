/** @chainjobs/rpc */
export {}
