// The worktree port is core's (src/core/worktree-port.ts); re-exported here for the implementation and its tests.
export type * from '../core/worktree-port';
