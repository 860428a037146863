/** @chainjobs/server */
export {}
