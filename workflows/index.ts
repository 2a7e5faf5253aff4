import type { migrationWorkflow } from './migration';
import type { revertWorkflow } from './revert';
import type { releaseWorkflow } from './release';
import type { MigrationWorkflow } from '../src/contract/migration';
import type { RevertWorkflow } from '../src/contract/revert';
import type { ReleaseWorkflow } from '../src/contract/release';

export { migrationWorkflow } from './migration';
export { verifyWorkflow, snapshotsWorkflow, unlockWorkflow, planWorkflow, auditVerifyWorkflow } from './inspect';
export { revertWorkflow } from './revert';
export { rehearsalWorkflow } from './rehearse';
export { releaseWorkflow } from './release';

/** Fails to compile when a workflow's signature drifts from the one the contract gives the client. */
type Implements<W extends Contract, Contract> = W;
export type ContractSignatures = [
  Implements<typeof migrationWorkflow, MigrationWorkflow>,
  Implements<typeof revertWorkflow, RevertWorkflow>,
  Implements<typeof releaseWorkflow, ReleaseWorkflow>,
];
