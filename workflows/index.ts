export { migrationWorkflow } from './migration';
export { verifyWorkflow, snapshotsWorkflow, unlockWorkflow, planWorkflow, auditVerifyWorkflow } from './inspect';
export { rehearsalWorkflow } from './rehearse';
