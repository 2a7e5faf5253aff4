/** Shared wording for plans, so every destructive kind explains itself the same way. */
export const NO_SNAPSHOT_NOTE =
  'restoring the dropped data needs a snapshot, which Godwit does not take yet; this step cannot be rolled back';
