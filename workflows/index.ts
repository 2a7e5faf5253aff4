export { migrationWorkflow } from './migration';
export { verifyWorkflow, snapshotsWorkflow, unlockWorkflow, planWorkflow, auditVerifyWorkflow } from './inspect';
export { revertWorkflow } from './revert';
export { rehearsalWorkflow } from './rehearse';
export { releaseWorkflow } from './release';
