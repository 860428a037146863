/** @chainjobs/store-sql */
export {}
