export type BuildState = 'current' | 'stale' | 'missing';
export const ROOT: string;
export const DIST: string;
export const STAMP: string;
export const COMPILED_CLI: string;
export function buildState(root?: string): BuildState;
