export * from './states';
export * from './machine';
