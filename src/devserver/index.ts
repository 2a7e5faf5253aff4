export * from './find';
export * from './search-attributes';
export * from './server';
export * from './resolve';
