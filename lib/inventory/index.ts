/**
 * The credential inventory: which credentials exist, who issued them, where their copies live, who owns them,
 * and how an alert's secret maps back to one of them.
 */
export * from './schema';
export * from './identifiers';
export * from './validate';
export * from './load';
export * from './resolve';
export * from './fingerprints';
