export { migrationWorkflow } from './migration';
export { verifyWorkflow, snapshotsWorkflow, auditVerifyWorkflow } from './inspect';
