export { migrationWorkflow } from './migration';
export { verifyWorkflow, snapshotsWorkflow } from './inspect';
