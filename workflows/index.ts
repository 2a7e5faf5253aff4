export { migrationWorkflow } from './migration';
export { verifyWorkflow, snapshotsWorkflow, unlockWorkflow } from './inspect';
