/** Shared wording for plans, so every kind explains a missing inverse the same way. */

/**
 * Offline (`godwit plan` without a database) the model lacks what an inverse rebuilds;
 * the plan made against the database at apply time has it.
 */
export function fromCatalogNote(what: string): string {
  return `${what} is not in the offline schema model; it is read from the catalog at apply time to build the inverse`;
}
