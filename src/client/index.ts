export * from './errors';
export * from './connect';
export * from './migrations';
export * from './status';
export * from './inspect';
