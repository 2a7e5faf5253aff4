export { migrationWorkflow } from './migration';
export { verifyWorkflow, snapshotsWorkflow, unlockWorkflow, planWorkflow } from './inspect';
