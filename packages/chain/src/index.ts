/** @chainjobs/chain */
export {}
