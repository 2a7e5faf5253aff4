export { migrationWorkflow } from './migration';
export { verifyWorkflow, snapshotsWorkflow, planWorkflow } from './inspect';
